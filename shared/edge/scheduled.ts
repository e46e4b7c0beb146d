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

/**
 * The edge of functions run by a schedule or invoked directly (no HTTP), as a middy pipeline:
 * carry the Lambda context, log the result (or the failure, rethrown so that Lambda marks the
 * invocation failed: asynchronous invocations are retried, then go to the failure
 * destination), count the outcomes, validate the event — then the domain, inside
 * `withInvocation`: `invocationDeadline()` says when Lambda stops it.
 */
export function scheduledEdge<I, O extends Counted>(options: {
  name: string;
  logger: InvocationLogger;
  parse: (event: unknown) => I;
  handle: (input: I, log: Logger) => Promise<HandlerResult<O>>;
  /** What each outcome is counted by; its own kind and reason unless given. */
  countBy?: (outcome: O) => Counted;
}): (event: ScheduledEvent | unknown, context?: Context) => Promise<HandlerResult<O>> {
  const { name, logger } = options;
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
      const result = await options.handle(input, edgeState(context).log);
      outcomes.set(context, result.outcomes);
      return result;
    });
  return (event, context) => withInvocation(context, () => pipeline(event, context ?? localContext(name)));
}
