import { describe, expect, it } from 'vitest';
import type { Target } from '../../../../functions/replace-node/target';
import type { InstanceInfo } from '../../../../shared/domain/cloud';
import {
  REPLACEMENT_CLAIM_PREFIX,
  REPLACING_HOSTNAME_TAG,
  REPLACING_NODE_TAG,
  REPLACING_REMOVED_TAG,
  REPLACING_ROLE_TAG,
  REPLACING_SINCE_TAG,
} from '../../../../shared/domain/labels';
import { FakeNodes } from '../../../support/fake-nodes';
import { replaceOnce, stubCloud } from './stubs';

// Resuming a replacement whose node has already left terminates an instance on the strength
// of its tags: the rules that make those tags enough — this cluster's instance, tagged as
// being replaced, its node gone, its removal ours, and no other caller still at it.

const now = new Date('2026-11-24T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1_000).toISOString();
const cluster = { key: 'swarm-reflex:cluster', value: 'prod' };
const GONE = 'nodegone0000000000000000';

/** The instance a replacement of node GONE (hostname old-1, at 10.0.0.99) tagged, and removed its node. */
function tagged(p: { tags?: Record<string, string | undefined>; state?: string } = {}): InstanceInfo {
  const tags: Record<string, string | undefined> = {
    [cluster.key]: cluster.value,
    [REPLACING_NODE_TAG]: GONE,
    [REPLACING_HOSTNAME_TAG]: 'old-1',
    [REPLACING_SINCE_TAG]: ago(600),
    [REPLACING_ROLE_TAG]: 'worker',
    [REPLACING_REMOVED_TAG]: ago(590),
    ...p.tags,
  };
  return {
    id: 'i-0000000000000e001',
    state: p.state ?? 'running',
    privateIp: '10.0.0.99',
    tags: Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => e[1] !== undefined)),
    launchTime: undefined,
  };
}

async function resumeFor(target: Target, instances: InstanceInfo[], p: { swarm?: FakeNodes } = {}) {
  const swarm = p.swarm ?? new FakeNodes().add('m1', { role: 'manager' }).add('w1');
  const { cloud, terminated, untagged } = stubCloud(instances);
  return { outcome: await replaceOnce(swarm, cloud, target, now), terminated, untagged };
}

const byId: Target = { by: 'instance-id', value: 'i-0000000000000e001' };

describe('resume: what it terminates', () => {
  it('terminates the tagged instance of this cluster whose node left by our removal, and says whose it was', async () => {
    const { outcome, terminated } = await resumeFor(byId, [
      tagged({ tags: { [REPLACING_ROLE_TAG]: 'manager' } }),
    ]);
    expect(outcome).toEqual({
      kind: 'replaced',
      target: 'instance i-0000000000000e001',
      node: GONE,
      hostname: 'old-1',
      role: 'manager',
      instance: 'i-0000000000000e001',
      steps: ['terminated i-0000000000000e001'],
      detail: expect.any(String),
    });
    expect(terminated).toEqual(['i-0000000000000e001']);
  });

  it('names a role it cannot read a worker', async () => {
    const { outcome } = await resumeFor(byId, [tagged({ tags: { [REPLACING_ROLE_TAG]: undefined } })]);
    expect(outcome).toMatchObject({ kind: 'replaced', role: 'worker' });
  });

  it('finds the tagged instance by the node ID or hostname it was tagged for, or by its address', async () => {
    for (const target of [
      { by: 'node', value: GONE },
      { by: 'node', value: 'old-1' },
      { by: 'address', value: '10.0.0.99' },
    ] satisfies Target[]) {
      const { terminated } = await resumeFor(target, [tagged()]);
      expect(terminated, target.value).toEqual(['i-0000000000000e001']);
    }
  });

  it('never terminates an instance tagged for another node or at another address', async () => {
    for (const target of [
      { by: 'node', value: 'other-1' },
      { by: 'address', value: '10.0.0.98' },
    ] satisfies Target[]) {
      const { outcome, terminated } = await resumeFor(target, [tagged()]);
      expect(outcome, target.value).toMatchObject({ kind: 'refused', reason: 'unknown-node' });
      expect(terminated).toEqual([]);
    }
  });

  it('knows no node behind an instance ID that EC2 does not list', async () => {
    const { outcome, terminated } = await resumeFor({ by: 'instance-id', value: 'i-0000000000000e009' }, [
      tagged(),
    ]);
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'unknown-node' });
    expect(terminated).toEqual([]);
  });
});

describe('resume: never an instance outside this cluster or not being replaced', () => {
  it('never terminates an instance without this cluster’s tag, whatever the cloud answers', async () => {
    for (const value of [undefined, 'staging']) {
      const { outcome, terminated } = await resumeFor(byId, [tagged({ tags: { [cluster.key]: value } })]);
      expect(outcome, String(value)).toMatchObject({ kind: 'refused', reason: 'unknown-node' });
      expect(terminated).toEqual([]);
    }
  });

  it('never terminates an instance of this cluster that is not tagged as being replaced', async () => {
    const { outcome, terminated } = await resumeFor(byId, [
      tagged({ tags: { [REPLACING_NODE_TAG]: undefined } }),
    ]);
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'unknown-node' });
    expect(terminated).toEqual([]);
  });
});

describe('resume: only when the node is gone and its removal was ours', () => {
  it('leaves an instance whose node is still in the swarm to the replacement of that node', async () => {
    const swarm = new FakeNodes().add('m1', { role: 'manager' }).add('w1', { state: 'down' });
    const { outcome, terminated } = await resumeFor(
      byId,
      [tagged({ tags: { [REPLACING_NODE_TAG]: swarm.node('w1').id } })],
      { swarm },
    );
    expect(outcome).toMatchObject({ kind: 'skipped', reason: 'in-progress' });
    expect(terminated).toEqual([]);
  });

  it('never terminates an instance that now runs another node, and says which; its stale tags go', async () => {
    const swarm = new FakeNodes().add('m1', { role: 'manager' }).add('w9', { address: '10.0.0.99' });
    const { outcome, terminated, untagged } = await resumeFor(byId, [tagged()], { swarm });
    expect(outcome).toMatchObject({
      kind: 'refused',
      reason: 'instance-in-use',
      detail: expect.stringContaining(`now runs node w9 (${swarm.node('w9').id})`),
    });
    expect(terminated).toEqual([]);
    expect(untagged).toEqual(['i-0000000000000e001']);
  });

  it('takes a claim of ours on the swarm for that node as proof of the removal', async () => {
    const swarm = new FakeNodes().add('m1', { role: 'manager' });
    swarm.swarm.labels = { [`${REPLACEMENT_CLAIM_PREFIX}${GONE}`]: `${ago(600)} ${ago(900)} worker` };
    const { outcome, terminated } = await resumeFor(
      byId,
      [tagged({ tags: { [REPLACING_REMOVED_TAG]: undefined } })],
      {
        swarm,
      },
    );
    expect(outcome).toMatchObject({ kind: 'replaced' });
    expect(terminated).toEqual(['i-0000000000000e001']);
  });

  it('takes neither a claim for another node nor a ghost’s claim as that proof: the tags are stale', async () => {
    for (const [key, value] of [
      [`${REPLACEMENT_CLAIM_PREFIX}nodeother000000000000000`, `${ago(600)} ${ago(900)} worker`],
      [`${REPLACEMENT_CLAIM_PREFIX}${GONE}`, `${ago(600)} ${ago(900)} worker ghost`],
    ] as const) {
      const swarm = new FakeNodes().add('m1', { role: 'manager' });
      swarm.swarm.labels = { [key]: value };
      const { outcome, terminated, untagged } = await resumeFor(
        byId,
        [tagged({ tags: { [REPLACING_REMOVED_TAG]: undefined } })],
        { swarm },
      );
      expect(outcome, value).toMatchObject({ kind: 'refused', reason: 'stale-tags' });
      expect(terminated).toEqual([]);
      expect(untagged).toEqual(['i-0000000000000e001']);
    }
  });
});

describe('resume: another caller’s replacement is given a minute', () => {
  const since = (s: number) => tagged({ tags: { [REPLACING_SINCE_TAG]: ago(s) } });

  it('waits while another caller’s replacement is younger than a minute', async () => {
    const { outcome, terminated } = await resumeFor(byId, [since(59)]);
    expect(outcome).toMatchObject({ kind: 'skipped', reason: 'in-progress' });
    expect(terminated).toEqual([]);
  });

  it('resumes it once it is a minute old, or when its start cannot be read', async () => {
    expect((await resumeFor(byId, [since(60)])).terminated).toEqual(['i-0000000000000e001']);
    const unreadable = tagged({ tags: { [REPLACING_SINCE_TAG]: 'not a time' } });
    expect((await resumeFor(byId, [unreadable])).terminated).toEqual(['i-0000000000000e001']);
    const none = tagged({ tags: { [REPLACING_SINCE_TAG]: undefined } });
    expect((await resumeFor(byId, [none])).terminated).toEqual(['i-0000000000000e001']);
  });
});
