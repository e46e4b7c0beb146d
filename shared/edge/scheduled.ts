import { publicMessage, ReflexError } from '../domain/errors';
import { answeringManager, withInvocation } from '../domain/invocation';
import type { Logger } from '../domain/log';
import { countOutcomes } from './metrics';

/** The part of the Lambda context that says how long this invocation may still run. */
export interface LambdaTimeLeft {
  getRemainingTimeInMillis(): number;
}

/**
 * The edge of functions run by a schedule or invoked directly (no HTTP): validate the event,
 * call the domain, log and count its outcomes. A failure is logged and rethrown so that
 * Lambda marks the invocation failed (asynchronous invocations are retried, then go to the
 * failure destination).
 */
export function scheduledEdge<I, O extends { kind: string; reason?: string }>(options: {
  name: string;
  logger: Logger;
  parse: (event: unknown) => I;
  /** Runs inside the invocation: `invocationDeadline()` says when Lambda stops it. */
  handle: (input: I, log: Logger) => Promise<{ outcomes: readonly O[] } & Record<string, unknown>>;
  /** What each outcome is counted by; its own kind and reason unless given. */
  countBy?: (outcome: O) => { kind: string; reason?: string };
}): (
  event: unknown,
  context?: LambdaTimeLeft,
) => Promise<{ outcomes: readonly O[] } & Record<string, unknown>> {
  return (event, context) => withInvocation(context, () => run(event));
  async function run(event: unknown) {
    const started = Date.now();
    const log = options.logger.child({ function: options.name });
    try {
      const input = options.parse(event);
      const result = await options.handle(input, log);
      const countBy = options.countBy;
      countOutcomes(log, options.name, countBy ? result.outcomes.map((o) => countBy(o)) : result.outcomes);
      for (const o of result.outcomes) log.info('outcome', { audit: true, ...o });
      const manager = answeringManager();
      log.info('invocation done', { manager, ms: Date.now() - started });
      return manager === undefined ? result : { ...result, manager };
    } catch (error) {
      log.error('invocation failed', {
        error,
        retryable: error instanceof ReflexError && error.retryable,
        ms: Date.now() - started,
      });
      throw new Error(publicMessage(error), { cause: error });
    }
  }
}
