import * as z from 'zod';
import { checkOptions, edgeState, fn } from './state';

export type EventParser<I> = (payload: unknown) => { input: I; logKeys?: Record<string, unknown> };

const options = z.strictObject({ parse: fn<EventParser<unknown>>(), into: z.instanceof(WeakMap) });

/**
 * Validates the payload (the parsed body, or a direct invocation's event) into the function's
 * input, which the handler finds in `into` under its context; the parser throws a
 * ValidationError (400) that says what is wrong. Its log keys (e.g. the webhook's groupKey)
 * are added to every later line of the invocation.
 */
export function validateEvent<I>(opts: { parse: EventParser<I>; into: WeakMap<object, I> }) {
  checkOptions('validateEvent', options, opts);
  const { parse, into } = opts;
  return {
    before: (request: { context: object }): void => {
      const state = edgeState(request.context);
      const { input, logKeys } = parse(state.payload);
      if (logKeys) state.log = state.log.child(logKeys);
      into.set(request.context, input);
    },
  };
}
