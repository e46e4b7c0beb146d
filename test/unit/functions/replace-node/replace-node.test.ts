import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decideReplacement,
  downSinceOf,
  parseTarget,
  type ReplaceNodeDeps,
  replaceNodes,
  resolveTarget,
  stormLimit,
  type Target,
} from '../../../../functions/replace-node/replace-node';
import { createCloudInstances } from '../../../../shared/adapters/ec2';
import { createLogger } from '../../../../shared/adapters/logger';
import {
  REPLACEMENT_CLAIM_PREFIX,
  REPLACING_NODE_TAG,
  REPLACING_SINCE_TAG,
} from '../../../../shared/domain/labels';
import { formatLeaving } from '../../../../shared/domain/leaving';
import { hasQuorum } from '../../../../shared/domain/quorum';
import type { NodeState } from '../../../../shared/domain/swarm';
import { fakeEc2 } from '../../../support/fake-ec2';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const now = new Date('2026-11-24T12:00:00Z');
const longAgo = new Date('2026-11-24T11:00:00Z');
const justNow = new Date('2026-11-24T11:59:50Z');
const log = createLogger({ level: 'error', sink: () => {} });
const cluster = { key: 'swarm-reflex:cluster', value: 'prod' };
const safety = { nodeDownGraceSeconds: 120, maxDownShare: 0.34, maxReplacementsPerHour: 2 };

let ec2: ReturnType<typeof fakeEc2> | undefined;
afterEach(() => {
  ec2?.mock.restore();
  ec2 = undefined;
});

function cloudFor(instances: Parameters<typeof fakeEc2>[0]) {
  ec2 = fakeEc2(instances);
  return createCloudInstances(ec2.client, cluster);
}

function deps(
  swarm: FakeNodes,
  cloud: ReplaceNodeDeps['cloud'],
  notifier = recordingNotifier(),
): ReplaceNodeDeps {
  return {
    swarm,
    cloud,
    notifier,
    clock: { now: () => now },
    settings: { ...safety, updateAttempts: 10, clusterTag: cluster },
    ...fastRetry,
  };
}

async function replace(d: ReplaceNodeDeps, ...targets: Target[]) {
  return replaceNodes(d, {
    targets: targets.map((target, i) => ({ ref: `a${i}`, target })),
    ignored: [],
    dryRun: false,
    log,
  });
}

/** 3 managers + 3 workers, w1 down for an hour, its instance tagged for this cluster. */
function cluster6() {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('m2', { role: 'manager' })
    .add('m3', { role: 'manager' })
    .add('w1', {
      state: 'down',
      updatedAt: longAgo,
      engineLabels: { 'aws.instance-id': 'i-0000000000000a001' },
    })
    .add('w2')
    .add('w3');
  const instances = [
    {
      id: 'i-0000000000000a001',
      state: 'running',
      privateIp: swarm.node('w1').address,
      tags: { [cluster.key]: cluster.value },
    },
  ];
  return { swarm, instances };
}

/** 3 managers, m3 down for an hour, its instance labelled. */
function deadManager() {
  return new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('m2', { role: 'manager' })
    .add('m3', {
      role: 'manager',
      state: 'down',
      updatedAt: longAgo,
      engineLabels: { 'aws.instance-id': 'i-0000000000000a003' },
    });
}

describe('parseTarget', () => {
  it('reads node IDs and hostnames, instance IDs and node-exporter addresses', () => {
    expect(parseTarget({ node: 'ip-10-0-1-5.eu-west-1.compute.internal' })).toEqual({
      by: 'node',
      value: 'ip-10-0-1-5.eu-west-1.compute.internal',
    });
    expect(parseTarget({ instance: 'i-0abc1234def567890' })).toEqual({
      by: 'instance-id',
      value: 'i-0abc1234def567890',
    });
    expect(parseTarget({ instance: '10.0.1.5:9100' })).toEqual({ by: 'address', value: '10.0.1.5' });
    expect(parseTarget({})).toBeUndefined();
  });

  it('refuses hostile values', () => {
    for (const node of ['../etc', 'a/b', 'a%2Fb', 'x\n', 'a'.repeat(300), 'node;rm', '']) {
      const t = parseTarget({ node, instance: node === '' ? 'a b' : undefined });
      expect(t && 'invalid' in t, JSON.stringify(node)).toBe(true);
    }
  });
});

describe('resolveTarget', () => {
  it('prefers the one down node when a hostname is reused', () => {
    const swarm = new FakeNodes().add('w1', { state: 'down' }).add('w1');
    const found = resolveTarget(swarm.nodes, { by: 'node', value: 'w1' }) as NodeState;
    expect(found.state).toBe('down');
    const both = new FakeNodes().add('w1').add('w1');
    expect(resolveTarget(both.nodes, { by: 'node', value: 'w1' })).toBe('ambiguous');
  });
});

describe('decideReplacement', () => {
  it('needs more than half of the managers reachable (swarmkit rule)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 9 }), (managers, reachable) => {
        fc.pre(reachable <= managers);
        expect(hasQuorum(reachable, managers)).toBe(2 * reachable > managers);
      }),
    );
  });

  it('never treats a single down node as a storm', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, share) => stormLimit(n, share) >= 1,
      ),
    );
  });

  it('refuses a node that is not down, or down for less than the grace period', () => {
    const { swarm } = cluster6();
    const w2 = swarm.node('w2');
    expect(decideReplacement(swarm.nodes, w2, now, safety, 0)).toMatchObject({
      kind: 'refuse',
      reason: 'node-not-down',
    });
    const w1 = { ...swarm.node('w1'), updatedAt: justNow };
    expect(decideReplacement(swarm.nodes, w1, now, safety, 0)).toMatchObject({
      kind: 'refuse',
      reason: 'within-grace',
    });
    expect(decideReplacement(swarm.nodes, swarm.node('w1'), now, safety, 0)).toEqual({ kind: 'proceed' });
  });

  it('refuses during a storm, and when the rate limit is reached', () => {
    const { swarm } = cluster6();
    swarm.node('w2').state = 'down';
    swarm.node('w3').state = 'down';
    expect(decideReplacement(swarm.nodes, swarm.node('w1'), now, safety, 0)).toMatchObject({
      reason: 'storm',
      severity: 'critical',
    });
    const calm = cluster6().swarm;
    expect(decideReplacement(calm.nodes, calm.node('w1'), now, safety, 2)).toMatchObject({
      reason: 'rate-limited',
    });
  });

  it('removes a dead manager only if the rest keep a majority', () => {
    const three = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager', state: 'down', updatedAt: longAgo });
    expect(decideReplacement(three.nodes, three.node('m3'), now, safety, 0)).toEqual({ kind: 'proceed' });
    const lost = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager', state: 'down', updatedAt: longAgo })
      .add('m3', { role: 'manager', state: 'down', updatedAt: longAgo });
    expect(
      decideReplacement(lost.nodes, lost.node('m3'), now, { ...safety, maxDownShare: 1 }, 0),
    ).toMatchObject({
      reason: 'quorum-lost',
      severity: 'critical',
    });
    // Swarm still counts the target as reachable while another manager is unreachable:
    // removing it would leave 1 reachable of 2.
    const stale = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager', state: 'down', updatedAt: longAgo })
      .add('m3', { role: 'manager', state: 'down', updatedAt: longAgo });
    const m3 = stale.node('m3');
    m3.manager = { leader: false, reachability: 'reachable', addr: '10.0.0.12:2377' };
    expect(decideReplacement(stale.nodes, m3, now, { ...safety, maxDownShare: 1 }, 0)).toMatchObject({
      reason: 'would-lose-quorum',
      severity: 'critical',
    });
    const two = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager', state: 'down', updatedAt: longAgo });
    expect(
      decideReplacement(two.nodes, two.node('m2'), now, { ...safety, maxDownShare: 1 }, 0),
    ).toMatchObject({
      reason: 'quorum-lost',
    });
  });
});

describe('replaceNodes with EC2 mocked at the SDK boundary', () => {
  it('tags, removes and terminates a dead worker, and says so in chat', async () => {
    const { swarm, instances } = cluster6();
    const w1 = swarm.node('w1').id;
    const notifier = recordingNotifier();
    const result = await replace(deps(swarm, cloudFor(instances), notifier), { by: 'node', value: 'w1' });
    expect(result.outcomes).toEqual([
      expect.objectContaining({
        kind: 'replaced',
        hostname: 'w1',
        instance: 'i-0000000000000a001',
        role: 'worker',
      }),
    ]);
    expect(swarm.removed).toEqual(['w1']);
    expect(ec2?.terminated).toEqual(['i-0000000000000a001']);
    expect(instances[0]?.tags[REPLACING_NODE_TAG]).toBe(w1);
    expect(notifier.notices.map((n) => n.title)).toEqual([
      'Removed dead node w1 from the swarm',
      'Terminated i-0000000000000a001',
    ]);
  });

  it('demotes a dead manager before removing it', async () => {
    const swarm = deadManager();
    const cloud = cloudFor([
      {
        id: 'i-0000000000000a003',
        state: 'running',
        privateIp: '10.0.0.12',
        tags: { [cluster.key]: cluster.value },
      },
    ]);
    const result = await replace(deps(swarm, cloud), { by: 'node', value: 'm3' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced', role: 'manager' });
    expect(swarm.demoted).toEqual(['m3']);
    expect(swarm.removed).toEqual(['m3']);
  });

  it('terminates exactly once when the same trigger arrives 10 times at once', async () => {
    const { swarm, instances } = cluster6();
    const d = deps(swarm, cloudFor(instances));
    const results = await Promise.all(
      Array.from({ length: 10 }, () => replace(d, { by: 'node', value: 'w1' })),
    );
    const kinds = results.map((r) => r.outcomes[0]?.kind);
    expect(kinds.filter((k) => k === 'replaced')).toHaveLength(1);
    expect(ec2?.terminated).toEqual(['i-0000000000000a001']);
    expect(swarm.removed).toEqual(['w1']);
  });

  it('finishes an interrupted replacement on a later delivery, and only once', async () => {
    const { swarm, instances } = cluster6();
    const cloud = cloudFor(instances);
    const failure = Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' });
    // Removal succeeded, then EC2 throttled the termination: 503, nothing terminated.
    const original = cloud.terminateInstance;
    cloud.terminateInstance = async () => {
      throw (await import('../../../../shared/adapters/aws')).awsUnavailable(failure, 'terminating');
    };
    await expect(replace(deps(swarm, cloud), { by: 'node', value: 'w1' })).rejects.toMatchObject({
      retryable: true,
    });
    expect(swarm.removed).toEqual(['w1']);
    cloud.terminateInstance = original;
    const later = { ...deps(swarm, cloud), clock: { now: () => new Date(now.getTime() + 120_000) } };
    const retried = await replace(later, { by: 'node', value: 'w1' });
    expect(retried.outcomes[0]).toMatchObject({ kind: 'replaced', instance: 'i-0000000000000a001' });
    const again = await replace(later, { by: 'node', value: 'w1' });
    expect(again.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'already-replaced' });
    expect(ec2?.terminated).toEqual(['i-0000000000000a001']);
  });

  it('terminates at once when its node removal was applied but the answer was lost', async () => {
    const { swarm, instances } = cluster6();
    const removeNode = swarm.removeNode.bind(swarm);
    let lost = 1;
    swarm.removeNode = async (id) => {
      const done = await removeNode(id);
      if (lost-- > 0)
        throw new (await import('../../../../shared/domain/errors')).DependencyUnavailableError(
          'docker',
          'socket hang up',
        );
      return done;
    };
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced', instance: 'i-0000000000000a001' });
    expect(ec2?.terminated).toEqual(['i-0000000000000a001']);
    expect(swarm.removed).toEqual(['w1']);
  });

  it('rides out a passing EC2 error within the same delivery and terminates once', async () => {
    const { swarm, instances } = cluster6();
    const cloud = cloudFor(instances);
    const original = cloud.terminateInstance;
    let failures = 1;
    cloud.terminateInstance = async (id) => {
      if (failures-- > 0) {
        const { awsUnavailable } = await import('../../../../shared/adapters/aws');
        throw awsUnavailable(
          Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' }),
          'terminating',
        );
      }
      return original(id);
    };
    const result = await replace(deps(swarm, cloud), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced', instance: 'i-0000000000000a001' });
    expect(ec2?.terminated).toEqual(['i-0000000000000a001']);
    expect(swarm.removed).toEqual(['w1']);
  });

  it('refuses an instance without the cluster tag and touches nothing', async () => {
    const { swarm, instances } = cluster6();
    delete instances[0]?.tags[cluster.key];
    const notifier = recordingNotifier();
    const result = await replace(deps(swarm, cloudFor(instances), notifier), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'not-cluster-instance' });
    expect(swarm.removed).toEqual([]);
    expect(ec2?.terminated).toEqual([]);
    expect(ec2?.mock.commandCalls((await import('@aws-sdk/client-ec2')).CreateTagsCommand)).toHaveLength(0);
    expect(notifier.notices).toHaveLength(1);
  });

  it('refuses an unknown node, and a node without a findable instance', async () => {
    const { swarm } = cluster6();
    const cloud = cloudFor([]);
    expect((await replace(deps(swarm, cloud), { by: 'node', value: 'nope' })).outcomes[0]).toMatchObject({
      reason: 'unknown-node',
    });
    expect((await replace(deps(swarm, cloud), { by: 'node', value: 'w1' })).outcomes[0]).toMatchObject({
      reason: 'no-instance',
    });
    expect(swarm.removed).toEqual([]);
  });

  it('counts recent replacements from EC2 tags for the rate limit', async () => {
    const { swarm, instances } = cluster6();
    const recent = new Date(now.getTime() - 600_000).toISOString();
    for (const id of ['i-00000000000000b01', 'i-00000000000000b02']) {
      instances.push({
        id,
        state: 'terminated',
        privateIp: '10.9.9.9',
        tags: { [cluster.key]: cluster.value, [REPLACING_NODE_TAG]: id, [REPLACING_SINCE_TAG]: recent },
      });
    }
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'rate-limited' });
    expect(swarm.removed).toEqual([]);
  });

  it('answers 503-retryable on EC2 throttling or access denied, before changing anything', async () => {
    for (const name of ['RequestLimitExceeded', 'UnauthorizedOperation']) {
      const { swarm, instances } = cluster6();
      const cloud = cloudFor(instances);
      if (ec2) ec2.hooks.fail = Object.assign(new Error(name), { name });
      await expect(replace(deps(swarm, cloud), { by: 'node', value: 'w1' })).rejects.toMatchObject({
        name: 'DependencyUnavailableError',
        retryable: true,
      });
      expect(swarm.removed).toEqual([]);
      ec2?.mock.restore();
    }
  });

  it('refuses and sends a critical message when the swarm has no leader', async () => {
    const { swarm } = cluster6();
    swarm.noLeader = true;
    const notifier = recordingNotifier();
    const result = await replace(deps(swarm, undefined, notifier), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'quorum-lost' });
    expect(notifier.notices[0]).toMatchObject({ severity: 'critical' });
    expect(notifier.notices[0]?.text).toContain('--force-new-cluster');
  });
});

describe('replaceNodes without a cloud (on-prem)', () => {
  it('removes the dead node, says no instance was replaced, and records the removal on the swarm', async () => {
    const { swarm } = cluster6();
    const result = await replace(deps(swarm, undefined), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({
      kind: 'replaced',
      instance: undefined,
      detail: expect.stringContaining('no instance was replaced'),
    });
    expect(
      Object.keys(swarm.swarm.labels).filter((k) => k.startsWith(REPLACEMENT_CLAIM_PREFIX)),
    ).toHaveLength(1);
  });

  it('rate-limits from the removals recorded on the swarm (also as earlier versions wrote them)', async () => {
    const { swarm } = cluster6();
    const REMOVAL_LABEL_PREFIX = 'com.swarm-reflex.removed.';
    swarm.swarm.labels[`${REMOVAL_LABEL_PREFIX}a`] = new Date(now.getTime() - 60_000).toISOString();
    swarm.swarm.labels[`${REMOVAL_LABEL_PREFIX}b`] = new Date(now.getTime() - 120_000).toISOString();
    swarm.swarm.labels[`${REMOVAL_LABEL_PREFIX}old`] = new Date(now.getTime() - 7_200_000).toISOString();
    expect((await replace(deps(swarm, undefined), { by: 'node', value: 'w1' })).outcomes[0]).toMatchObject({
      reason: 'rate-limited',
    });
  });

  it('removes once when triggered 10 times at once', async () => {
    const { swarm } = cluster6();
    const d = deps(swarm, undefined);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => replace(d, { by: 'node', value: 'w1' })),
    );
    expect(results.filter((r) => r.outcomes[0]?.kind === 'replaced')).toHaveLength(1);
    expect(swarm.removed).toEqual(['w1']);
  });

  it('plans without acting on a dry run', async () => {
    const { swarm } = cluster6();
    const result = await replaceNodes(deps(swarm, undefined), {
      targets: [{ ref: 'x', target: { by: 'node', value: 'w1' } }],
      ignored: [],
      dryRun: true,
      log,
    });
    expect(result.outcomes[0]).toMatchObject({
      kind: 'skipped',
      reason: 'dry-run',
      steps: expect.arrayContaining([expect.stringContaining('remove node w1')]),
    });
    expect(swarm.removed).toEqual([]);
  });
});

describe('never the wrong action (races and AWS as it really behaves)', () => {
  const newId = 'i-0000000000000b001';

  /** w1 (no instance label) is down; its instance is gone and a new one got the same address and joined as w4. */
  function reusedAddress(newNodeLabelled: boolean) {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager' })
      .add('w1', { state: 'down', updatedAt: longAgo, address: '10.0.9.9' })
      .add('w2')
      .add('w4', {
        address: '10.0.9.9',
        engineLabels: newNodeLabelled ? { 'aws.instance-id': newId } : {},
      });
    const instances = [
      { id: newId, state: 'running', privateIp: '10.0.9.9', tags: { [cluster.key]: cluster.value } },
    ];
    return { swarm, instances };
  }

  for (const labelled of [true, false]) {
    it(`never tags or terminates an instance that backs another node; the dead node is a ghost (address reused, new node ${labelled ? 'labelled' : 'unlabelled'})`, async () => {
      const { swarm, instances } = reusedAddress(labelled);
      const notifier = recordingNotifier();
      const result = await replace(deps(swarm, cloudFor(instances), notifier), { by: 'node', value: 'w1' });
      expect(result.outcomes[0]).toMatchObject({
        kind: 'removed-ghost',
        hostname: 'w1',
        instance: undefined,
      });
      expect(result.outcomes[0]?.detail).toContain('now runs node w4');
      expect(ec2?.terminated).toEqual([]);
      expect(ec2?.mock.commandCalls((await import('@aws-sdk/client-ec2')).CreateTagsCommand)).toHaveLength(0);
      expect(swarm.removed).toEqual(['w1']);
      expect(instances[0]?.tags[REPLACING_NODE_TAG]).toBeUndefined();
    });
  }

  /** 1 manager + 6 workers, w1..w5 down for an hour, each on its own tagged instance. */
  function fiveDead() {
    const swarm = new FakeNodes().add('m1', { role: 'manager' });
    const instances: Parameters<typeof fakeEc2>[0] = [];
    for (let i = 1; i <= 6; i++) {
      const id = `i-0000000000000c00${i}`;
      swarm.add(`w${i}`, {
        state: i <= 5 ? 'down' : 'ready',
        updatedAt: longAgo,
        engineLabels: { 'aws.instance-id': id },
      });
      instances.push({
        id,
        state: 'running',
        privateIp: swarm.node(`w${i}`).address,
        tags: { [cluster.key]: cluster.value },
      });
    }
    return { swarm, instances };
  }
  const oneAnHour = { ...safety, maxDownShare: 1, maxReplacementsPerHour: 1 };

  it('holds the hourly limit when five different dead nodes are replaced at once (EC2)', async () => {
    const { swarm, instances } = fiveDead();
    const d = {
      ...deps(swarm, cloudFor(instances)),
      settings: { ...oneAnHour, updateAttempts: 10, clusterTag: cluster },
    };
    if (ec2) ec2.hooks.latencyMs = 20;
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => replace(d, { by: 'node', value: `w${i}` })));
    const kinds = results.map((r) => (r.outcomes[0] as { reason?: string }).reason ?? r.outcomes[0]?.kind);
    expect(kinds.filter((k) => k === 'replaced')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'rate-limited')).toHaveLength(4);
    expect(swarm.removed).toHaveLength(1);
    expect(ec2?.terminated).toHaveLength(1);
  });

  it('holds the hourly limit when five different dead nodes are removed at once (on-prem)', async () => {
    const { swarm } = fiveDead();
    const d = {
      ...deps(swarm, undefined),
      settings: { ...oneAnHour, updateAttempts: 10, clusterTag: undefined },
    };
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => replace(d, { by: 'node', value: `w${i}` })));
    expect(results.filter((r) => r.outcomes[0]?.kind === 'replaced')).toHaveLength(1);
    expect(swarm.removed).toHaveLength(1);
  });

  it('does not remove or terminate a node that came back between the checks and the removal', async () => {
    const { swarm, instances } = cluster6();
    const cloud = cloudFor(instances);
    const tag = cloud.tagInstance.bind(cloud);
    // The machine comes back while we talk to EC2: the next thing Swarm sees is a Ready node.
    cloud.tagInstance = async (id, tags) => {
      await tag(id, tags);
      swarm.node('w1').state = 'ready';
    };
    const notifier = recordingNotifier();
    const result = await replace(deps(swarm, cloud, notifier), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'node-came-back' });
    expect(swarm.removed).toEqual([]);
    expect(ec2?.terminated).toEqual([]);
    // The aborted attempt leaves no tag and no claim behind.
    expect(instances[0]?.tags[REPLACING_NODE_TAG]).toBeUndefined();
    expect(
      Object.keys(swarm.swarm.labels).filter((k) => k.startsWith('com.swarm-reflex.replacing.')),
    ).toEqual([]);
  });

  it('never resumes onto an instance that rejoined the swarm as a new node', async () => {
    const { swarm, instances } = cluster6();
    const i = instances[0] as (typeof instances)[number];
    // An earlier attempt tagged the instance for node "gone", which has left; the instance
    // rebooted and joined again as w1 (a new node ID, Ready).
    i.tags[REPLACING_NODE_TAG] = 'nodegone0000000000000000';
    i.tags[REPLACING_SINCE_TAG] = longAgo.toISOString();
    swarm.node('w1').state = 'ready';
    const result = await replace(deps(swarm, cloudFor(instances)), {
      by: 'node',
      value: 'nodegone0000000000000000',
    });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'instance-in-use' });
    expect(ec2?.terminated).toEqual([]);
    // The tags were stale: gone, so that nothing resumes onto the instance later.
    expect(i.tags[REPLACING_NODE_TAG]).toBeUndefined();
  });

  it('resumes a manager replacement only with quorum, and names its role', async () => {
    const make = () => {
      const swarm = new FakeNodes()
        .add('m1', { role: 'manager' })
        .add('m2', { role: 'manager' })
        .add('m3', { role: 'manager' });
      const instances = [
        {
          id: 'i-0000000000000d004',
          state: 'running',
          privateIp: '10.0.0.99',
          tags: {
            [cluster.key]: cluster.value,
            [REPLACING_NODE_TAG]: 'nodem4gone00000000000000',
            [REPLACING_SINCE_TAG]: longAgo.toISOString(),
            'swarm-reflex:replacing-role': 'manager',
            // Its node's removal was ours: what makes a resume terminate.
            'swarm-reflex:replacing-removed': longAgo.toISOString(),
          },
        },
      ];
      return { swarm, instances };
    };
    const lost = make();
    for (const m of ['m2', 'm3']) {
      const n = lost.swarm.node(m);
      n.manager = { leader: false, reachability: 'unreachable', addr: '' };
    }
    const refused = await replace(deps(lost.swarm, cloudFor(lost.instances)), {
      by: 'instance-id',
      value: 'i-0000000000000d004',
    });
    expect(refused.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'quorum-lost' });
    expect(ec2?.terminated).toEqual([]);
    ec2?.mock.restore();

    const ok = make();
    const resumed = await replace(deps(ok.swarm, cloudFor(ok.instances)), {
      by: 'instance-id',
      value: 'i-0000000000000d004',
    });
    expect(resumed.outcomes[0]).toMatchObject({
      kind: 'replaced',
      role: 'manager',
      instance: 'i-0000000000000d004',
    });
  });

  it('keeps the grace period from restarting when its own demotion moved UpdatedAt (retry after a failed removal)', async () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager', state: 'down', updatedAt: longAgo });
    swarm.clock = () => now;
    const removeNode = swarm.removeNode.bind(swarm);
    let failures = 1;
    swarm.removeNode = async (id, options) => {
      if (failures-- > 0) {
        const { DependencyUnavailableError } = await import('../../../../shared/domain/errors');
        throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
      }
      return removeNode(id, options);
    };
    const result = await replace(deps(swarm, undefined), { by: 'node', value: 'm3' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced', role: 'manager' });
    expect(swarm.removed).toEqual(['m3']);
  });

  it('keeps the grace period across deliveries: a later delivery finishes a demoted manager at once', async () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager', state: 'down', updatedAt: longAgo });
    swarm.clock = () => now;
    const removeNode = swarm.removeNode.bind(swarm);
    swarm.removeNode = async () => {
      const { DependencyUnavailableError } = await import('../../../../shared/domain/errors');
      throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    };
    await expect(replace(deps(swarm, undefined), { by: 'node', value: 'm3' })).rejects.toMatchObject({
      retryable: true,
    });
    expect(swarm.demoted).toEqual(['m3']);
    swarm.removeNode = removeNode;
    const later = { ...deps(swarm, undefined), clock: { now: () => new Date(now.getTime() + 5_000) } };
    const result = await replace(later, { by: 'node', value: 'm3' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced' });
    expect(swarm.removed).toEqual(['m3']);
  });
});

describe('downSinceOf', () => {
  const claim = { nodeId: 'n', claimedAt: now, downSince: longAgo, role: 'manager' as const };
  const node = (role: 'manager' | 'worker', updatedAt: Date) =>
    ({ ...new FakeNodes().add('m3', { role, state: 'down', updatedAt }).node('m3') }) as NodeState;

  it('keeps the claimed down-since only across our own demotion of a claimed manager', () => {
    const demotedJustAfter = new Date(now.getTime() + 2_000);
    expect(downSinceOf(node('worker', demotedJustAfter), claim)).toEqual(longAgo);
    // No claim, a worker claim (we never write a dead worker), a node still a manager: its UpdatedAt.
    expect(downSinceOf(node('worker', demotedJustAfter), undefined)).toEqual(demotedJustAfter);
    expect(downSinceOf(node('worker', demotedJustAfter), { ...claim, role: 'worker' })).toEqual(
      demotedJustAfter,
    );
    expect(downSinceOf(node('manager', demotedJustAfter), claim)).toEqual(demotedJustAfter);
    // Demoted in a later delivery than the claim: still our demotion.
    const later = new Date(now.getTime() + 5 * 60_000);
    expect(downSinceOf(node('worker', later), claim)).toEqual(longAgo);
    // Written well before the claim: not our write.
    const before = new Date(now.getTime() - 10 * 60_000);
    expect(downSinceOf(node('worker', before), { ...claim, downSince: new Date(0) })).toEqual(before);
  });
});

describe('ghost nodes: down, and their instance is gone', () => {
  const tagged = { [cluster.key]: cluster.value };

  it('removes a down node whose instance is terminated, without tagging, terminating or using a slot', async () => {
    const { swarm, instances } = cluster6();
    (instances[0] as { state: string }).state = 'terminated';
    // The hourly limit is used up: a ghost costs nothing and is still removed.
    swarm.swarm.labels['com.swarm-reflex.replacing.other1'] = now.toISOString();
    swarm.swarm.labels['com.swarm-reflex.replacing.other2'] = now.toISOString();
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'removed-ghost', hostname: 'w1' });
    expect(swarm.removed).toEqual(['w1']);
    expect(ec2?.terminated).toEqual([]);
    expect(ec2?.mock.commandCalls((await import('@aws-sdk/client-ec2')).CreateTagsCommand)).toHaveLength(0);
    expect(Object.keys(swarm.swarm.labels).sort()).toEqual([
      'com.swarm-reflex.replacing.other1',
      'com.swarm-reflex.replacing.other2',
    ]);
  });

  it('removes a down node whose instance EC2 no longer lists, once the cluster query shows EC2 answers', async () => {
    const { swarm } = cluster6();
    const other = {
      id: 'i-0000000000000a0ff',
      state: 'running',
      privateIp: '10.0.0.250',
      tags: { ...tagged },
    };
    const result = await replace(deps(swarm, cloudFor([other])), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'removed-ghost' });
    expect(swarm.removed).toEqual(['w1']);
  });

  it('refuses when EC2 shows none of the cluster: nothing confirms the instance is gone', async () => {
    const { swarm } = cluster6();
    const result = await replace(deps(swarm, cloudFor([])), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'no-instance' });
    expect(swarm.removed).toEqual([]);
  });

  it('does not count ghosts as down in the storm guard', async () => {
    // 8 nodes, storm limit floor(8 × 0.34) = 2: two ghosts and one real failure is 3 down.
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager' })
      .add('w1', {
        state: 'down',
        updatedAt: longAgo,
        engineLabels: { 'aws.instance-id': 'i-0000000000000a001' },
      })
      .add('g1', {
        state: 'down',
        updatedAt: longAgo,
        engineLabels: { 'aws.instance-id': 'i-00000000000000ee1' },
      })
      .add('g2', {
        state: 'down',
        updatedAt: longAgo,
        engineLabels: { 'aws.instance-id': 'i-00000000000000ee2' },
      })
      .add('w2')
      .add('w3');
    const instances = [
      {
        id: 'i-0000000000000a001',
        state: 'running',
        privateIp: swarm.node('w1').address,
        tags: { ...tagged },
      },
      { id: 'i-00000000000000ee1', state: 'terminated', privateIp: '', tags: { ...tagged } },
    ];
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced', instance: 'i-0000000000000a001' });
  });

  it('demotes a ghost manager only when quorum stays safe', async () => {
    const swarm = deadManager();
    const instances = [
      { id: 'i-0000000000000a003', state: 'terminated', privateIp: '', tags: { ...tagged } },
      { id: 'i-0000000000000a00f', state: 'running', privateIp: '10.0.0.10', tags: { ...tagged } },
    ];
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'm3' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'removed-ghost', role: 'manager' });
    expect(swarm.demoted).toEqual(['m3']);
    expect(swarm.removed).toEqual(['m3']);
  });
});

describe('what a review found (each reproduced before the fix)', () => {
  const tagged = { [cluster.key]: cluster.value };
  const running = {
    id: 'i-0000000000000a0ff',
    state: 'running',
    privateIp: '10.0.0.250',
    tags: { ...tagged },
  };

  it('never calls a node a ghost on "not found" by address (NAT, another VPC, on-prem): no-instance, as before', async () => {
    const { swarm } = cluster6();
    const w1 = swarm.node('w1');
    w1.engineLabels = {};
    w1.address = '192.168.7.20';
    const result = await replace(deps(swarm, cloudFor([running])), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'no-instance' });
    expect(swarm.removed).toEqual([]);
  });

  it('gives a ghost the grace period too: a manager down 3 s whose instance EC2 does not find stays', async () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', {
        role: 'manager',
        state: 'down',
        updatedAt: new Date(now.getTime() - 3_000),
        engineLabels: { 'aws.instance-id': 'i-0123456789abcdef0' },
      });
    const result = await replace(deps(swarm, cloudFor([running])), { by: 'node', value: 'm3' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'within-grace' });
    expect(swarm.demoted).toEqual([]);
    expect(swarm.removed).toEqual([]);
  });

  it('never terminates a newer instance that got the address of an unlabelled dead node before it joined', async () => {
    const { swarm } = cluster6();
    const w1 = swarm.node('w1');
    w1.engineLabels = {};
    const fresh = {
      id: 'i-0000000000000b001',
      state: 'running',
      privateIp: w1.address,
      tags: { ...tagged },
      launchTime: new Date(now.getTime() - 60_000),
    };
    const result = await replace(deps(swarm, cloudFor([fresh])), { by: 'node', value: 'w1' });
    expect(ec2?.terminated).toEqual([]);
    expect(fresh.tags[REPLACING_NODE_TAG]).toBeUndefined();
    // The dead node's own instance is gone (its address is someone else's): a ghost, removed.
    expect(result.outcomes[0]).toMatchObject({ kind: 'removed-ghost', hostname: 'w1' });
  });

  it('never terminates on stale tags alone: no claim and no removal of ours recorded → tags removed, nothing terminated', async () => {
    const { swarm, instances } = cluster6();
    const i = instances[0] as (typeof instances)[number];
    // Tags of an attempt that never removed its node; the node left later by other means.
    i.tags[REPLACING_NODE_TAG] = 'nodeleftbyhand0000000000';
    i.tags[REPLACING_SINCE_TAG] = new Date(now.getTime() - 86_400_000).toISOString();
    swarm.nodes = swarm.nodes.filter((n) => n.hostname !== 'w1');
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'instance-id', value: i.id });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'stale-tags' });
    expect(ec2?.terminated).toEqual([]);
    expect(i.tags[REPLACING_NODE_TAG]).toBeUndefined();
  });

  it('keeps the down-since time when the demotion came in a later delivery than the claim', async () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager', state: 'down', updatedAt: longAgo });
    const cloud = cloudFor([
      {
        id: 'i-0000000000000a003',
        state: 'running',
        privateIp: swarm.node('m3').address,
        tags: { ...tagged },
      },
    ]);
    swarm.node('m3').engineLabels = { 'aws.instance-id': 'i-0000000000000a003' };
    const at = (s: number) => ({
      ...deps(swarm, cloud),
      clock: { now: () => new Date(now.getTime() + s * 1_000) },
    });
    // 1: claims, then EC2 throttles the tagging (every retry): 503.
    const tag = cloud.tagInstance.bind(cloud);
    const { awsUnavailable } = await import('../../../../shared/adapters/aws');
    const throttled = awsUnavailable(
      Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' }),
      'tagging',
    );
    cloud.tagInstance = async () => {
      throw throttled;
    };
    await expect(replace(at(0), { by: 'node', value: 'm3' })).rejects.toMatchObject({ retryable: true });
    cloud.tagInstance = tag;
    // 2: a minute later, demotes; the removal fails: 503.
    swarm.clock = () => new Date(now.getTime() + 90_000);
    const removeNode = swarm.removeNode.bind(swarm);
    const { DependencyUnavailableError } = await import('../../../../shared/domain/errors');
    swarm.removeNode = async () => {
      throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    };
    await expect(replace(at(90), { by: 'node', value: 'm3' })).rejects.toMatchObject({ retryable: true });
    expect(swarm.demoted).toEqual(['m3']);
    swarm.removeNode = removeNode;
    // 3: finishes at once, not "within grace" of our own demotion.
    const result = await replace(at(100), { by: 'node', value: 'm3' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'replaced', role: 'manager' });
  });

  it('leaves a node AWS is taking to node-lifecycle: no termination, no slot of the hourly limit', async () => {
    const { swarm, instances } = cluster6();
    swarm.node('w1').labels = {
      'com.swarm-reflex.leaving': formatLeaving({ cause: 'spot', since: longAgo }),
    };
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'leaving' });
    expect(ec2?.terminated).toEqual([]);
    expect(swarm.removed).toEqual([]);
  });

  it('leaves a worker being scaled in to its scale-in (its group shrinks; no EC2 termination)', async () => {
    const { swarm, instances } = cluster6();
    swarm.node('w1').labels = { 'com.swarm-reflex.scale-in': longAgo.toISOString() };
    const result = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'refused', reason: 'scaling-in' });
    expect(ec2?.terminated).toEqual([]);
    expect(swarm.removed).toEqual([]);
  });
});

describe('one plan: what a dry run shows is what a replacement does', () => {
  const dryRun = (d: ReplaceNodeDeps, target: Target) =>
    replaceNodes(d, { targets: [{ ref: 'a0', target }], ignored: [], dryRun: true, log });

  /** m3, a dead manager, with its running instance tagged for this cluster. */
  function managerAndInstance() {
    const swarm = deadManager();
    const instance = {
      id: 'i-0000000000000a003',
      state: 'running',
      privateIp: swarm.node('m3').address,
      tags: { [cluster.key]: cluster.value },
    };
    return { swarm, instance };
  }

  it('carries out, in order, each step its dry run showed, and tells each one', async () => {
    const { swarm, instance } = managerAndInstance();
    const m3 = swarm.node('m3').id;
    const planned = await dryRun(deps(swarm, cloudFor([instance])), { by: 'node', value: 'm3' });
    expect(planned.outcomes[0]).toMatchObject({
      kind: 'skipped',
      reason: 'dry-run',
      steps: [
        'claim a replacement slot on the swarm',
        'tag i-0000000000000a003 as being replaced',
        'demote manager m3',
        `remove node m3 (${m3}) unless it is back`,
        'terminate i-0000000000000a003',
      ],
    });
    expect(swarm.demoted).toEqual([]);
    const notifier = recordingNotifier();
    const done = await replace(deps(swarm, cloudFor([instance]), notifier), { by: 'node', value: 'm3' });
    expect(done.outcomes[0]).toMatchObject({
      kind: 'replaced',
      steps: [
        'claimed',
        'tagged i-0000000000000a003',
        'demoted m3',
        'removed m3',
        'terminated i-0000000000000a003',
      ],
    });
    expect(notifier.notices.map((n) => n.title)).toEqual([
      'Demoted dead manager m3',
      'Removed dead node m3 from the swarm',
      'Terminated i-0000000000000a003',
    ]);
  });

  it('shows the claim it renews when its own claim is older than the hour it holds', async () => {
    const { swarm, instances } = cluster6();
    const w1 = swarm.node('w1').id;
    const twoHoursAgo = new Date(now.getTime() - 7_200_000).toISOString();
    swarm.swarm.labels[REPLACEMENT_CLAIM_PREFIX + w1] = `${twoHoursAgo} ${longAgo.toISOString()} worker`;
    const planned = await dryRun(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    const steps = (planned.outcomes[0] as { steps: string[] }).steps;
    expect(steps[0]).toBe('claim a replacement slot on the swarm');
    const done = await replace(deps(swarm, cloudFor(instances)), { by: 'node', value: 'w1' });
    expect(done.outcomes[0]).toMatchObject({ kind: 'replaced' });
    expect((done.outcomes[0] as { steps: string[] }).steps).toHaveLength(steps.length);
    expect((done.outcomes[0] as { steps: string[] }).steps[0]).toBe('claimed');
  });

  it('shows a ghost manager its demotion and removal, and does just that', async () => {
    const { swarm, instance } = managerAndInstance();
    const m3 = swarm.node('m3').id;
    const gone = { ...instance, state: 'terminated' };
    const planned = await dryRun(deps(swarm, cloudFor([gone])), { by: 'node', value: 'm3' });
    expect(planned.outcomes[0]).toMatchObject({
      reason: 'dry-run',
      steps: ['demote manager m3', `remove ghost node m3 (${m3})`],
    });
    expect(swarm.removed).toEqual([]);
    const notifier = recordingNotifier();
    const done = await replace(deps(swarm, cloudFor([gone]), notifier), { by: 'node', value: 'm3' });
    expect(done.outcomes[0]).toMatchObject({ kind: 'removed-ghost', role: 'manager' });
    expect(swarm.demoted).toEqual(['m3']);
    expect(ec2?.terminated).toEqual([]);
    expect(notifier.notices.map((n) => n.title)).toEqual(['Removed ghost node m3']);
  });
});
