import * as z from 'zod';
import { publicMessage, ReflexError } from '../../domain/errors';
import { answeringManager } from '../../domain/invocation';
import { checkOptions, edgeState } from './state';

const resultShape = z.looseObject({ outcomes: z.array(z.record(z.string(), z.unknown())) });
const options = z.strictObject({}).optional();

/**
 * The result of a function run by a schedule or invoked directly (no HTTP): one audit line per
 * outcome, then the result with the manager that answered. A failure is logged and rethrown
 * with its public message, so that Lambda marks the invocation failed (asynchronous
 * invocations are retried, then go to the failure destination).
 */
export function invocationResult(opts?: Record<string, never>) {
  checkOptions('invocationResult', options, opts);
  return {
    after: (request: { context: object; response: unknown }): void => {
      const { log, started } = edgeState(request.context);
      const result = resultShape.parse(request.response);
      for (const o of result.outcomes) log.info('outcome', { audit: true, ...o });
      const manager = answeringManager();
      log.info('invocation done', { manager, ms: Date.now() - started });
      if (manager !== undefined) request.response = { ...result, manager };
    },
    onError: (request: { context: object; error: unknown }): void => {
      const { error } = request;
      const { log, started } = edgeState(request.context);
      log.error('invocation failed', {
        error,
        retryable: error instanceof ReflexError && error.retryable,
        ms: Date.now() - started,
      });
      throw new Error(publicMessage(error), { cause: error });
    },
  };
}
