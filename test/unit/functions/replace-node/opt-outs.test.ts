import { afterEach, describe, expect, it } from 'vitest';
import {
  type ReplaceNodeDeps,
  replaceNodes,
  type Target,
} from '../../../../functions/replace-node/replace-node';
import { createCloudInstances } from '../../../../shared/adapters/ec2';
import { createLogger } from '../../../../shared/adapters/logger';
import { fakeEc2 } from '../../../support/fake-ec2';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const now = new Date('2026-11-24T12:00:00Z');
const longAgo = new Date('2026-11-24T11:00:00Z');
const log = createLogger({ level: 'error', sink: () => {} });
const cluster = { key: 'swarm-reflex:cluster', value: 'prod' };

let ec2: ReturnType<typeof fakeEc2> | undefined;
afterEach(() => {
  ec2?.mock.restore();
  ec2 = undefined;
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
