import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as z from 'zod';
import type { Settings } from '../config/settings';
import { type AlertmanagerWebhook, parseWebhook } from '../domain/alerts';
import { ValidationError } from '../domain/errors';
import { withInvocation } from '../domain/invocation';
import type { Logger } from '../domain/log';
import type { Pause } from '../domain/pause';
import { authenticate } from './middleware/authenticate';
import { type Counted, countOutcomes } from './middleware/count-outcomes';
import { type HttpResponse, httpAnswer, httpResponse } from './middleware/http-response';
import { type InvocationLogger, invocationContext, localContext } from './middleware/invocation-context';
import { boundedJsonBody } from './middleware/json-body';
import { edgeState } from './middleware/state';
import { type EventParser, validateEvent } from './middleware/validate-event';
import { type PauseCheck, type PausedOutcome, pausedAnswer } from './pause-gate';

export type { HttpResponse, PauseCheck };

/** What a function's domain returns: its outcomes, and anything else the answer carries. */
export type HandlerResult<O> = { outcomes: readonly O[] } & Record<string, unknown>;

/** The URL's query parameters as they came (empty for direct invocations). */
export type RawQuery = Readonly<Record<string, string>>;

export interface EdgeContext<Q = RawQuery> {
  /** Query parameters of the URL, as the edge's `query` option read them (raw without it). */
  query: Q;
  log: Logger;
}

/** A remediating function's pause switch (swarmAccess(rt).pause.read); unset only in tests: never paused. */
export interface PauseDeps {
  paused?: () => Promise<Pause | undefined>;
}

/** What every HTTP function's edge needs from its container (the runtime's `http` gives it). */
export interface HttpDeps {
  settings: Settings;
  logger: InvocationLogger;
  /** The accepted tokens; may fetch them (SSM), so it may fail with a retryable error. */
  tokens: () => Promise<readonly string[]>;
}

export interface EdgeOptions<I, O extends Counted, Q = RawQuery> {
  name: string;
  deps: Pick<HttpDeps, 'logger' | 'tokens'> & { settings: Pick<Settings, 'maxBodyBytes'> };
  /** Validates the parsed body (or a direct invocation's event); throws ValidationError. */
  parse: EventParser<I>;
  /** Validates the query parameters (throws ValidationError: 400) before the pause is asked. */
  query?: (raw: RawQuery) => Q;
  /**
   * The cluster-wide pause: while it is in force, the answer is `skipped: paused` and `handle`
   * never runs — after authentication and validation, before anything is read or changed.
   * `false` for a function that works on while paused (notify).
   */
  paused: PauseCheck;
  handle: (input: I, context: EdgeContext<Q>) => Promise<HandlerResult<O>>;
}

/** `?dryRun=true|false|1|0` on every route: the plan without the change. */
export const dryRunParam = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .optional()
  .transform((v) => v === 'true' || v === '1');

/** Validates the URL's query parameters; a bad one is a 400 that names it. Unknown ones are ignored. */
export function parseQuery<S extends z.ZodType>(
  schema: S,
  query: Readonly<Record<string, string>>,
): z.output<S> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `query parameter ${i.path.join('.')}: ${i.message}`);
    throw new ValidationError(issues.join('; '), issues);
  }
  return parsed.data;
}

/** The usual parse step: an Alertmanager webhook, correlated in logs by its groupKey. */
export function webhookPayload(settings: Pick<Settings, 'maxAlerts'>) {
  return (payload: unknown): { input: AlertmanagerWebhook; logKeys: Record<string, unknown> } => {
    const webhook = parseWebhook(payload, settings.maxAlerts);
    return { input: webhook, logKeys: { groupKey: webhook.groupKey, receiver: webhook.receiver } };
  };
}

/**
 * The edge every HTTP function shares, as a middy pipeline of our own middlewares, one concern
 * each: carry the Lambda context, answer (and map errors to statuses, in one place), count the
 * outcomes, authenticate, bound and parse the body, validate it (and the query), ask whether
 * the cluster-wide pause is in force (then answer `skipped: paused`) — then the domain. The order
 * matters: nothing is parsed, and Docker is never asked, before the caller is known. The whole
 * pipeline runs inside `withInvocation`, which keeps the invocation's deadline (from the
 * context's getRemainingTimeInMillis) and the answering manager for the adapters under it.
 */
export function httpEdge<I, O extends Counted, Q = RawQuery>(
  options: EdgeOptions<I, O, Q>,
): (event: APIGatewayProxyEventV2 | unknown, context?: Context) => Promise<HttpResponse> {
  const { name } = options;
  const { settings, logger, tokens } = options.deps;
  const inputs = new WeakMap<object, I>();
  const outcomes = new WeakMap<object, readonly (O | PausedOutcome)[]>();
  const pipeline = middy<unknown, HttpResponse | HandlerResult<O | PausedOutcome>>({
    timeoutEarlyInMillis: 0,
  })
    .use(invocationContext({ name, logger }))
    .use(httpResponse())
    .use(countOutcomes({ name, outcomes }))
    .use(authenticate({ tokens }))
    .use(boundedJsonBody({ maxBytes: settings.maxBodyBytes }))
    .use(validateEvent({ parse: options.parse, into: inputs }))
    .handler(async (_event, context) => {
      const { http, log } = edgeState(context);
      const input = required(inputs.get(context));
      const raw = http?.query ?? {};
      const query = options.query ? options.query(raw) : (raw as Q);
      const result =
        (await pausedAnswer(options.paused, log)) ?? (await options.handle(input, { query, log }));
      outcomes.set(context, result.outcomes);
      return result;
    });
  return (event, context) =>
    withInvocation(context, async () => {
      // httpResponse turned the handler's result, or its error, into an HTTP answer.
      return httpAnswer.parse(await pipeline(event, context ?? localContext(name)));
    });
}

/** The input validateEvent stored: always there once the middlewares before the handler ran. */
function required<I>(input: I | undefined): I {
  if (input === undefined) throw new Error('the handler ran without a validated input');
  return input;
}
