import { describe, expect, it } from 'vitest';
import { parseReplaceRequest } from '../../../../functions/replace-node/request';
import { ValidationError } from '../../../../shared/domain/errors';

// A direct invocation names exactly one node, in a form that can be checked; anything else is
// refused before the swarm is read.

const direct = (payload: unknown) => parseReplaceRequest(payload, 100).input.targets;

describe('parseReplaceRequest: a direct invocation', () => {
  it('reads one node or one instance', () => {
    expect(direct({ node: 'w1' })).toEqual([{ ref: 'direct', target: { by: 'node', value: 'w1' } }]);
    expect(direct({ instance: 'i-0123abcd' })).toEqual([
      { ref: 'direct', target: { by: 'instance-id', value: 'i-0123abcd' } },
    ]);
    expect(direct({ node: 'a'.repeat(63) })).toHaveLength(1);
  });

  it('refuses both, neither, or anything else, as a validation error', () => {
    for (const payload of [
      { node: 'w1', instance: 'i-0123abcd' },
      {},
      { node: 'w1', force: true },
      null,
      'w1',
      42,
    ]) {
      expect(() => direct(payload), JSON.stringify(payload)).toThrow(ValidationError);
    }
  });

  it('refuses an oversized node or instance value before reading it', () => {
    expect(() => direct({ node: `${'a'.repeat(63)}.`.repeat(4) })).toThrow(ValidationError);
    expect(() => direct({ instance: 'a'.repeat(301) })).toThrow(ValidationError);
  });

  it('names the label that is no node, instance or address', () => {
    expect(() => direct({ node: 'bad_name' })).toThrow(
      'node label "bad_name" is not a node ID, hostname, instance ID or address',
    );
    expect(() => direct({ instance: '' })).toThrow(
      'target is not a node ID, hostname, instance ID or address',
    );
  });
});
