import { describe, expect, it } from 'vitest';
import { ghostEvidence, ghostsAmong } from '../../../../functions/replace-node/ghost';
import type { InstanceInfo } from '../../../../shared/domain/cloud';
import { FakeNodes } from '../../../support/fake-nodes';
import { stubCloud } from './stub-cloud';

// A ghost leaves without the storm guard and without a slot of the hourly limit: the evidence
// that its machine is gone must be real, and only other down nodes are looked at, only when
// the raw count would be a storm.

const joined = new Date('2026-11-24T09:00:00Z'); // FakeNodes' createdAt
const at = (address: string, launchTime: Date | undefined, id = 'i-0000000000000b001'): InstanceInfo => ({
  id,
  state: 'running',
  privateIp: address,
  tags: {},
  launchTime,
});

describe('ghostEvidence: an unlabelled node is known gone only when a newer instance holds its address', () => {
  const swarm = new FakeNodes().add('w1', { state: 'down', address: '10.0.0.11' });
  const w1 = swarm.node('w1');
  const evidence = (instance: InstanceInfo | undefined) =>
    ghostEvidence(stubCloud([]).cloud, w1, instance, swarm.nodes);

  it('takes an instance launched after the node joined as evidence', async () => {
    expect(await evidence(at('10.0.0.11', new Date(joined.getTime() + 1)))).toMatch(
      /launched .* after the node joined/,
    );
  });

  it('takes none launched before or as it joined, or at an unknown time, or nothing at its address', async () => {
    expect(await evidence(at('10.0.0.11', new Date(joined.getTime() - 1)))).toBeUndefined();
    expect(await evidence(at('10.0.0.11', joined))).toBeUndefined();
    expect(await evidence(at('10.0.0.11', undefined))).toBeUndefined();
    expect(await evidence(undefined)).toBeUndefined();
  });
});

describe('ghostsAmong: the other down nodes that are ghosts, looked up only for a storm', () => {
  /** 6 nodes; `down` are down, each labelled with its own instance; storm limit 2 at share 0.34. */
  function view(down: string[]) {
    const swarm = new FakeNodes();
    for (const [i, name] of ['m1', 'w1', 'w2', 'w3', 'w4', 'w5'].entries()) {
      swarm.add(name, {
        role: name === 'm1' ? 'manager' : 'worker',
        state: down.includes(name) ? 'down' : 'ready',
        engineLabels: { 'aws.instance-id': `i-000000000000000${i}` },
      });
    }
    return swarm;
  }
  const gone = (id: string): InstanceInfo => ({ ...at('10.9.9.9', undefined, id), state: 'terminated' });

  it('looks nothing up while the down nodes are within the storm limit', async () => {
    const swarm = view(['w1', 'w2']);
    const { cloud, lookups } = stubCloud([gone('i-0000000000000002')]);
    expect(await ghostsAmong(cloud, swarm.nodes, swarm.node('w1'), 0.34)).toEqual(new Set());
    expect(lookups).toEqual([]);
  });

  it('past the limit, names the other down nodes whose instance is gone, never the target or a Ready node', async () => {
    const swarm = view(['w1', 'w2', 'w3']);
    const { cloud, lookups } = stubCloud([
      gone('i-0000000000000001'),
      gone('i-0000000000000002'),
      { ...gone('i-0000000000000003'), state: 'running' },
      gone('i-0000000000000004'),
    ]);
    const ghosts = await ghostsAmong(cloud, swarm.nodes, swarm.node('w1'), 0.34);
    expect(ghosts).toEqual(new Set([swarm.node('w2').id]));
    expect(lookups.sort()).toEqual(['i-0000000000000002', 'i-0000000000000003']);
  });
});
