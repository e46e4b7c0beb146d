import { describe, expect, it } from 'vitest';
import { ghostEvidence, ghostsAmong } from '../../../../functions/replace-node/ghost';
import type { InstanceInfo } from '../../../../shared/domain/cloud';
import { FakeNodes } from '../../../support/fake-nodes';
import { replaceOnce, stubCloud } from './stubs';

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

describe('removeGhost: the claim that keeps its down-since is its own', () => {
  const now = new Date('2026-11-24T12:00:00Z');
  const ago = (s: number) => new Date(now.getTime() - s * 1_000).toISOString();
  /** m3, a ghost manager we demoted 10 s ago (its UpdatedAt moved), its instance terminated. */
  function demotedGhost() {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', {
        state: 'down',
        updatedAt: new Date(now.getTime() - 10_000),
        engineLabels: { 'aws.instance-id': 'i-0000000000000c003' },
      });
    swarm.swarm.labels = {
      // Our claim for m3, with the down-since our demotion moved; and a newer claim of another node.
      [`com.swarm-reflex.replacing.${swarm.node('m3').id}`]: `${ago(20)} ${ago(3_600)} manager ghost`,
      'com.swarm-reflex.replacing.nodeother000000000000000': `${ago(5)} ${ago(100)} worker`,
    };
    const { cloud } = stubCloud([
      { ...at('10.0.0.12', undefined, 'i-0000000000000c003'), state: 'terminated' },
    ]);
    return { swarm, cloud };
  }

  it('removes the ghost by the down-since of its own claim, and names its terminated instance', async () => {
    const { swarm, cloud } = demotedGhost();
    expect(await replaceOnce(swarm, cloud, { by: 'node', value: 'm3' }, now)).toMatchObject({
      kind: 'removed-ghost',
      hostname: 'm3',
      instance: 'i-0000000000000c003',
    });
    expect(swarm.removed).toEqual(['m3']);
  });

  it('says the ghost came back, not that it was removed, when Swarm finds it Ready at the removal', async () => {
    const { swarm, cloud } = demotedGhost();
    const remove = swarm.removeNode.bind(swarm);
    swarm.removeNode = async (id, options) => {
      swarm.node('m3').state = 'ready';
      return remove(id, options);
    };
    expect(await replaceOnce(swarm, cloud, { by: 'node', value: 'm3' }, now)).toMatchObject({
      kind: 'refused',
      reason: 'node-came-back',
    });
    expect(swarm.removed).toEqual([]);
  });
});
