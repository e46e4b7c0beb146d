import * as z from 'zod';
import { publicMessage, ReflexError, ValidationError } from '../../domain/errors';
import { answeringManager } from '../../domain/invocation';
import { statusFor } from '../status';
import { checkOptions, edgeState } from './state';

/** What an HTTP function answers (API Gateway HTTP API and Function URLs take this shape). */
export const httpAnswer = z.strictObject({
  statusCode: z.int(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
});
export type HttpResponse = z.output<typeof httpAnswer>;

const resultShape = z.looseObject({ outcomes: z.array(z.unknown()) });
const options = z.strictObject({}).optional();

/**
 * The HTTP answer, and the ONE place errors become statuses (`statusFor`): 200 with the
 * handler's result (and the manager that answered), or the error's status with a body that
 * names the error and never a stack or cause. A direct invocation (the sweep's asynchronous
 * dispatch, a schedule, the console) that fails for a reason a retry can cure (5xx) has no HTTP
 * caller to retry: it throws instead, so that Lambda retries it and then sends it to the
 * failure destination — a returned 503 would count as a success, and be lost.
 */
export function httpResponse(opts?: Record<string, never>) {
  checkOptions('httpResponse', options, opts);
  return {
    after: (request: { context: object; response: unknown }): void => {
      const { log, started } = edgeState(request.context);
      const result = resultShape.parse(request.response);
      const manager = answeringManager();
      log.info('request handled', {
        status: 200,
        outcomes: result.outcomes.length,
        manager,
        ms: Date.now() - started,
      });
      request.response = respond(200, manager === undefined ? result : { ...result, manager });
    },
    onError: (request: { context: object; error: unknown; response: unknown }): void => {
      const { error } = request;
      const { log, started, http } = edgeState(request.context);
      const status = statusFor(error);
      const level = status >= 500 ? 'error' : 'warn';
      log[level]('request refused', { status, error, manager: answeringManager(), ms: Date.now() - started });
      if (http === undefined && status >= 500) throw new Error(publicMessage(error), { cause: error });
      const body: Record<string, unknown> = {
        error: error instanceof ReflexError ? error.name : 'InternalError',
        message: publicMessage(error),
      };
      if (error instanceof ValidationError && error.issues.length > 0) body.issues = error.issues;
      if (status === 503) body.retry = true;
      request.response = respond(status, body);
    },
  };
}

function respond(statusCode: number, body: unknown): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}
