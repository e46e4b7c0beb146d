import { afterEach, describe, expect, it } from 'vitest';
import {
  type ReplaceNodeDeps,
  replaceNodes,
  type Target,
} from '../../../../functions/replace-node/replace-node';
import { createInstanceGroups } from '../../../../shared/adapters/autoscaling';
import { createCloudInstances } from '../../../../shared/adapters/ec2';
import { createLogger } from '../../../../shared/adapters/logger';
import { fakeAutoScaling } from '../../../support/fake-autoscaling';
import { fakeEc2 } from '../../../support/fake-ec2';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const now = new Date('2026-11-24T12:00:00Z');
const longAgo = new Date('2026-11-24T11:00:00Z');
const log = createLogger({ level: 'error', sink: () => {} });
const cluster = { key: 'swarm-reflex:cluster', value: 'prod' };

let ec2: ReturnType<typeof fakeEc2> | undefined;
let asg: ReturnType<typeof fakeAutoScaling> | undefined;
afterEach(() => {
  ec2?.mock.restore();
  asg?.mock.restore();
  ec2 = undefined;
  asg = undefined;
});

/** 3 managers + 3 workers, w1 down for an hour, its instance tagged for this cluster. */
function cluster6(withCloud: boolean) {
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
  const tags = { [cluster.key]: cluster.value };
  ec2 = withCloud
    ? fakeEc2([{ id: 'i-0000000000000a001', state: 'running', privateIp: swarm.node('w1').address, tags }])
    : undefined;
  const notifier = recordingNotifier();
  const deps: ReplaceNodeDeps = {
    swarm,
    cloud: ec2 ? createCloudInstances(ec2.client, cluster) : undefined,
    notifier,
    clock: { now: () => now },
    settings: {
      nodeDownGraceSeconds: 120,
      maxDownShare: 0.34,
      maxReplacementsPerHour: 2,
      updateAttempts: 5,
      clusterTag: cluster,
    },
    ...fastRetry,
  };
  return { swarm, deps, notifier };
}

const replace = (deps: ReplaceNodeDeps, target: Target) =>
  replaceNodes(deps, { targets: [{ ref: 'a0', target }], ignored: [], dryRun: false, log });

describe('replace-node never replaces a node a person opted out', () => {
  for (const withCloud of [true, false]) {
    const where = withCloud ? 'with EC2' : 'on-prem';
    for (const value of ['true', 'TRUE', 'yes', '']) {
      it(`refuses a down node labelled com.swarm-reflex.exclude=${JSON.stringify(value)} (${where}): excluded, nothing changed`, async () => {
        const { swarm, deps } = cluster6(withCloud);
        swarm.node('w1').labels = { 'com.swarm-reflex.exclude': value };
        const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
        expect(outcomes[0]).toMatchObject({ kind: 'refused', reason: 'excluded' });
        expect(swarm.removed).toEqual([]);
        expect(swarm.swarm.labels).toEqual({});
        expect(ec2?.terminated ?? []).toEqual([]);
      });
    }

    for (const availability of ['drain', 'pause'] as const) {
      it(`refuses a down node a person set to ${availability} (${where}): maintenance, nothing changed`, async () => {
        const { swarm, deps } = cluster6(withCloud);
        swarm.node('w1').availability = availability;
        const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
        expect(outcomes[0]).toMatchObject({ kind: 'refused', reason: 'maintenance' });
        expect(outcomes[0]?.detail).toContain(availability);
        expect(swarm.removed).toEqual([]);
        expect(ec2?.terminated ?? []).toEqual([]);
      });
    }
  }

  it('refuses an opted-out node also when it is named by its instance', async () => {
    const { swarm, deps } = cluster6(true);
    swarm.node('w1').labels = { 'com.swarm-reflex.exclude': 'true' };
    const { outcomes } = await replace(deps, { by: 'instance-id', value: 'i-0000000000000a001' });
    expect(outcomes[0]).toMatchObject({ kind: 'refused', reason: 'excluded' });
    expect(ec2?.terminated).toEqual([]);
  });

  it('still replaces a down node labelled exclude=false', async () => {
    const { swarm, deps } = cluster6(true);
    swarm.node('w1').labels = { 'com.swarm-reflex.exclude': 'false' };
    const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
    expect(outcomes[0]).toMatchObject({ kind: 'replaced' });
  });
});

describe('replace-node never replaces a node whose instance a person put in Auto Scaling Standby', () => {
  /** w1's instance in the worker group, in Standby (or InService). */
  function inGroup(standby: boolean) {
    const c = cluster6(true);
    asg = fakeAutoScaling(
      {
        name: 'prod-workers',
        min: 1,
        max: 6,
        desired: 3,
        instances: ['i-0000000000000a001', 'i-0000000000000a002'],
        standby: standby ? ['i-0000000000000a001'] : [],
      },
      () => now,
    );
    c.deps.groups = createInstanceGroups(asg.client);
    return c;
  }

  it('refuses a down node whose instance is in Standby: maintenance, nothing removed or terminated', async () => {
    const { swarm, deps } = inGroup(true);
    const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
    expect(outcomes[0]).toMatchObject({
      kind: 'refused',
      reason: 'maintenance',
      detail: expect.stringContaining('Standby'),
    });
    expect(swarm.removed).toEqual([]);
    expect(swarm.swarm.labels).toEqual({});
    expect(ec2?.terminated).toEqual([]);
  });

  it('still removes the node as a ghost when its instance in Standby is terminated after all', async () => {
    const { swarm, deps } = inGroup(true);
    const tags = { [cluster.key]: cluster.value };
    const own = ec2?.instances[0];
    if (own) own.state = 'terminated';
    ec2?.instances.push({ id: 'i-0000000000000a002', state: 'running', privateIp: '10.0.9.9', tags });
    const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
    expect(outcomes[0]).toMatchObject({ kind: 'removed-ghost', hostname: 'w1' });
    expect(swarm.removed).toEqual(['w1']);
    expect(ec2?.terminated).toEqual([]);
  });

  it('refuses to remove an unlabelled node as a ghost on a newer LaunchTime when its instance is in Standby (stopped and started)', async () => {
    const { swarm, deps } = inGroup(true);
    swarm.node('w1').engineLabels = {};
    const own = ec2?.instances[0];
    if (own) own.launchTime = new Date(now.getTime() - 60_000); // after w1 joined: a stop and start
    const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
    expect(outcomes[0]).toMatchObject({ kind: 'refused', reason: 'maintenance' });
    expect(swarm.removed).toEqual([]);
  });

  it('never resumes an interrupted replacement by terminating an instance a person put in Standby since', async () => {
    const { swarm, deps } = inGroup(true);
    const instance = ec2?.instances[0];
    if (!instance) throw new Error('no instance');
    const w1 = swarm.node('w1');
    // Our replacement removed w1 (its tags say so) and was cut off before the termination.
    instance.tags = {
      ...instance.tags,
      'swarm-reflex:replacing-node': w1.id,
      'swarm-reflex:replacing-hostname': 'w1',
      'swarm-reflex:replacing-since': new Date(now.getTime() - 600_000).toISOString(),
      'swarm-reflex:replacing-removed': new Date(now.getTime() - 590_000).toISOString(),
    };
    swarm.nodes = swarm.nodes.filter((n) => n.id !== w1.id);
    const { outcomes } = await replace(deps, { by: 'instance-id', value: 'i-0000000000000a001' });
    expect(outcomes[0]).toMatchObject({
      kind: 'refused',
      reason: 'maintenance',
      detail: expect.stringContaining('Standby'),
    });
    expect(ec2?.terminated).toEqual([]);
  });

  it('replaces the same node once its instance is back InService', async () => {
    const { deps } = inGroup(false);
    const { outcomes } = await replace(deps, { by: 'node', value: 'w1' });
    expect(outcomes[0]).toMatchObject({ kind: 'replaced' });
    expect(ec2?.terminated).toEqual(['i-0000000000000a001']);
  });

  it('replaces nothing when Auto Scaling cannot say (fails, to be retried)', async () => {
    const { swarm, deps } = inGroup(false);
    if (asg) asg.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    await expect(replace(deps, { by: 'node', value: 'w1' })).rejects.toThrow(/Auto Scaling|Rate exceeded/);
    expect(swarm.removed).toEqual([]);
    expect(ec2?.terminated).toEqual([]);
  });
});
