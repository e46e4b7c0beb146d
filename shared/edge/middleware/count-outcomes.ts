import * as z from 'zod';
import { countOutcomes as publish } from '../metrics';
import { checkOptions, fn } from './state';

export interface Counted {
  kind: string;
  reason?: string;
}

const options = z.strictObject({
  name: z.string().min(1),
  outcomes: z.instanceof(WeakMap),
  countBy: fn<(outcome: never) => Counted>().optional(),
});

/**
 * After the handler: one EMF metric line per (kind, reason) of its outcomes, which the handler
 * left in `outcomes` under its context. `countBy` says what an outcome is counted by (its own
 * kind and reason unless given).
 */
export function countOutcomes<O extends Counted>(opts: {
  name: string;
  outcomes: WeakMap<object, readonly O[]>;
  countBy?: (outcome: O) => Counted;
}) {
  checkOptions('countOutcomes', options, opts);
  const { name, outcomes, countBy } = opts;
  return {
    after: (request: { context: object }): void => {
      const list = outcomes.get(request.context) ?? [];
      publish(name, countBy ? list.map(countBy) : list);
    },
  };
}
