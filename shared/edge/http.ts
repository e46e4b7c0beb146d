import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as z from 'zod';
import type { Settings } from '../config/settings';
import { type AlertmanagerWebhook, parseWebhook } from '../domain/alerts';
import { ValidationError } from '../domain/errors';
import { withInvocation } from '../domain/invocation';
import type { Logger } from '../domain/log';
import { authenticate } from './middleware/authenticate';
import { type Counted, countOutcomes } from './middleware/count-outcomes';
import { type HttpResponse, httpAnswer, httpResponse } from './middleware/http-response';
import { type InvocationLogger, invocationContext, localContext } from './middleware/invocation-context';
import { boundedJsonBody } from './middleware/json-body';
import { edgeState } from './middleware/state';
import { type EventParser, validateEvent } from './middleware/validate-event';

export type { HttpResponse };

/** What a function's domain returns: its outcomes, and anything else the answer carries. */
export type HandlerResult<O> = { outcomes: readonly O[] } & Record<string, unknown>;

export interface EdgeContext {
  /** Query parameters of the URL (empty for direct invocations). */
  query: Readonly<Record<string, string>>;
  log: Logger;
}

/** What every HTTP function's edge needs from its container (the runtime's `http` gives it). */
export interface HttpDeps {
  settings: Settings;
  logger: InvocationLogger;
  /** The accepted tokens; may fetch them (SSM), so it may fail with a retryable error. */
  tokens: () => Promise<readonly string[]>;
}

export interface EdgeOptions<I, O extends Counted> {
  name: string;
  deps: Pick<HttpDeps, 'logger' | 'tokens'> & { settings: Pick<Settings, 'maxBodyBytes'> };
  /** Validates the parsed body (or a direct invocation's event); throws ValidationError. */
  parse: EventParser<I>;
  handle: (input: I, context: EdgeContext) => Promise<HandlerResult<O>>;
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
 * outcomes, authenticate, bound and parse the body, validate it — then the domain. The order
 * matters: nothing is parsed, and Docker is never asked, before the caller is known. The whole
 * pipeline runs inside `withInvocation`, which keeps the invocation's deadline (from the
 * context's getRemainingTimeInMillis) and the answering manager for the adapters under it.
 */
export function httpEdge<I, O extends Counted>(
  options: EdgeOptions<I, O>,
): (event: APIGatewayProxyEventV2 | unknown, context?: Context) => Promise<HttpResponse> {
  const { name } = options;
  const { settings, logger, tokens } = options.deps;
  const inputs = new WeakMap<object, I>();
  const outcomes = new WeakMap<object, readonly O[]>();
  const pipeline = middy<unknown, HttpResponse | HandlerResult<O>>({ timeoutEarlyInMillis: 0 })
    .use(invocationContext({ name, logger }))
    .use(httpResponse())
    .use(countOutcomes({ name, outcomes }))
    .use(authenticate({ tokens }))
    .use(boundedJsonBody({ maxBytes: settings.maxBodyBytes }))
    .use(validateEvent({ parse: options.parse, into: inputs }))
    .handler(async (_event, context) => {
      const { http, log } = edgeState(context);
      const result = await options.handle(required(inputs.get(context)), { query: http?.query ?? {}, log });
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
