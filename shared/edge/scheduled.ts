import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { withInvocation } from '../domain/invocation';
import type { Logger } from '../domain/log';
import type { HandlerResult } from './http';
import { type Counted, countOutcomes } from './middleware/count-outcomes';
import { type InvocationLogger, invocationContext, localContext } from './middleware/invocation-context';
import { invocationResult } from './middleware/invocation-result';
import { edgeState } from './middleware/state';
import { validateEvent } from './middleware/validate-event';
import { pausedAnswer, type ScheduledPause } from './pause-gate';

/**
 * The edge of functions run by a schedule or invoked directly (no HTTP), as a middy pipeline:
 * carry the Lambda context, log the result (or the failure, rethrown so that Lambda marks the
 * invocation failed: asynchronous invocations are retried, then go to the failure
 * destination), count the outcomes, validate the event, ask whether the cluster-wide pause is
 * in force (then the result is `skipped: paused` and nothing is read or changed) — then the
 * domain, inside `withInvocation`: `invocationDeadline()` says when Lambda stops it.
 */
export function scheduledEdge<I, O extends Counted>(options: {
  name: string;
  logger: InvocationLogger;
  parse: (event: unknown) => I;
  handle: (input: I, log: Logger) => Promise<HandlerResult<O>>;
  /**
   * The cluster-wide pause (see httpEdge): while in force, `handle` never runs and the result is
   * the one outcome `paused.outcome` makes. `false` for upkeep that goes on while paused
   * (sync-join-tokens) and for the sweep, which reads the pause itself and keeps reporting.
   */
  paused: ScheduledPause<O> | false;
  /** What each outcome is counted by; its own kind and reason unless given. */
  countBy?: (outcome: O) => Counted;
}): (event: ScheduledEvent | unknown, context?: Context) => Promise<HandlerResult<O>> {
  const { name, logger, paused } = options;
  const inputs = new WeakMap<object, I>();
  const outcomes = new WeakMap<object, readonly O[]>();
  const pipeline = middy<unknown, HandlerResult<O>>({ timeoutEarlyInMillis: 0 })
    .use(invocationContext({ name, logger }))
    .use(invocationResult())
    .use(countOutcomes({ name, outcomes, countBy: options.countBy }))
    .use(validateEvent({ parse: (event) => ({ input: options.parse(event) }), into: inputs }))
    .handler(async (_event, context) => {
      const input = inputs.get(context);
      if (input === undefined) throw new Error('the handler ran without a validated input');
      const { log } = edgeState(context);
      const result =
        (paused && (await pausedAnswer(paused.check, log, paused.outcome))) ||
        (await options.handle(input, log));
      outcomes.set(context, result.outcomes);
      return result;
    });
  return (event, context) => withInvocation(context, () => pipeline(event, context ?? localContext(name)));
}
