import * as z from 'zod';
import type { Logger } from '../../domain/log';

/** One HTTP request as the edge reads it (API Gateway HTTP API payload 2.0, a Function URL, `npm start`). */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Raw body bytes: checked against the size limit before anything parses them. */
  readonly body: Buffer;
}

/**
 * What the edge's middlewares know of one invocation, keyed by its Lambda context object (one
 * per invocation; middy makes one when a caller passes none), so nothing is added to AWS's
 * event or context and overlapping invocations under `npm start` never share it.
 */
export interface EdgeState {
  readonly started: number;
  log: Logger;
  /** Undefined for a direct invocation (the console, a schedule, the sweep). */
  readonly http: HttpRequest | undefined;
  /** The event; for an HTTP request, its parsed body once boundedJsonBody has run. */
  payload: unknown;
}

const states = new WeakMap<object, EdgeState>();

export function startState(context: object, state: EdgeState): EdgeState {
  states.set(context, state);
  return state;
}

/** The state `invocationContext` started; a pipeline without it is a programming error. */
export function edgeState(context: object): EdgeState {
  const state = states.get(context);
  if (state === undefined) throw new Error('edge middleware used without invocationContext() first');
  return state;
}

/** A middleware's options, checked when the pipeline is built: a wrong one fails the cold start. */
export function checkOptions<S extends z.ZodType>(
  middleware: string,
  schema: S,
  options: unknown,
): z.output<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new TypeError(
    `${middleware}: option ${issue?.path.map(String).join('.') || '(options)'} ${issue?.message}`,
  );
}

/** An option that must be a function (zod 4 has no function schema that keeps the signature). */
export function fn<F extends (...args: never[]) => unknown>() {
  return z.custom<F>((v) => typeof v === 'function', { error: 'must be a function' });
}
