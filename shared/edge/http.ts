import * as z from 'zod';
import type { Settings } from '../config/settings';
import { type AlertmanagerWebhook, parseWebhook } from '../domain/alerts';
import { publicMessage, ReflexError, ValidationError } from '../domain/errors';
import { answeringManager, withInvocation } from '../domain/invocation';
import type { Logger } from '../domain/log';
import { authenticate } from './auth';
import { parseJsonBody, readEvent } from './event';
import { countOutcomes } from './metrics';
import type { LambdaTimeLeft } from './scheduled';
import { statusFor } from './status';

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface EdgeContext {
  /** Query parameters of the URL (empty for direct invocations). */
  query: Readonly<Record<string, string>>;
  log: Logger;
}

export interface EdgeOptions<I, O extends { kind: string; reason?: string }> {
  name: string;
  settings: Settings;
  logger: Logger;
  /** The accepted tokens; may fetch them (SSM), so it may fail with a retryable error. */
  tokens: () => Promise<readonly string[]>;
  /** Validates the parsed body (or a direct invocation's event); throws ValidationError. */
  parse: (payload: unknown) => { input: I; logKeys?: Record<string, unknown> };
  handle: (input: I, context: EdgeContext) => Promise<{ outcomes: readonly O[] } & Record<string, unknown>>;
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
 * The edge every HTTP function shares: authenticate, bound and parse the body, validate it,
 * call the domain, count its outcomes, and map errors to statuses in one place. The order
 * matters: nothing is parsed, and Docker is never asked, before the caller is known.
 * A direct invocation that fails for a reason a retry can cure (5xx) throws instead.
 */
export function httpEdge<I, O extends { kind: string; reason?: string }>(
  options: EdgeOptions<I, O>,
): (event: unknown, context?: LambdaTimeLeft) => Promise<HttpResponse> {
  return (event, context) => withInvocation(context, () => handleHttp(options, event));
}

async function handleHttp<I, O extends { kind: string; reason?: string }>(
  options: EdgeOptions<I, O>,
  event: unknown,
): Promise<HttpResponse> {
  const { name, settings, logger } = options;
  const started = Date.now();
  let log = logger.child({ function: name });
  let direct = false;
  try {
    const request = readEvent(event);
    direct = request.kind === 'direct';
    let payload: unknown;
    let query: Readonly<Record<string, string>> = {};
    if (request.kind === 'http') {
      authenticate(request.headers.authorization, await options.tokens());
      payload = parseJsonBody(request.body, settings.maxBodyBytes);
      query = request.query;
    } else {
      payload = request.payload;
    }
    const { input, logKeys } = options.parse(payload);
    if (logKeys) log = log.child(logKeys);
    const result = await options.handle(input, { query, log });
    countOutcomes(log, name, result.outcomes);
    const manager = answeringManager();
    log.info('request handled', {
      status: 200,
      outcomes: result.outcomes.length,
      manager,
      ms: Date.now() - started,
    });
    return respond(200, manager === undefined ? result : { ...result, manager });
  } catch (error) {
    const status = statusFor(error);
    const level = status >= 500 ? 'error' : 'warn';
    log[level]('request refused', { status, error, manager: answeringManager(), ms: Date.now() - started });
    const body: Record<string, unknown> = {
      error: error instanceof ReflexError ? error.name : 'InternalError',
      message: publicMessage(error),
    };
    if (error instanceof ValidationError && error.issues.length > 0) body.issues = error.issues;
    if (status === 503) body.retry = true;
    // A direct invocation (the sweep's asynchronous dispatch, a schedule, the console) has no
    // HTTP caller to retry on a 503: it must FAIL, so that Lambda retries it and then sends
    // it to the failure destination. A returned 503 would count as a success, and be lost.
    if (direct && status >= 500) throw new Error(publicMessage(error), { cause: error });
    return respond(status, body);
  }
}

function respond(statusCode: number, body: unknown): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}
