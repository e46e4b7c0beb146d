import { readFileSync } from 'node:fs';
import type { LifecycleOutcome } from '../../../../functions/node-lifecycle/node-lifecycle';
import type { NodeLifecycleDeps } from '../../../../functions/node-lifecycle/types';
import { createInstanceGroups } from '../../../../shared/adapters/autoscaling';
import { createCloudInstances } from '../../../../shared/adapters/ec2';
import { createLifecycleActions } from '../../../../shared/adapters/lifecycle';
import { fakeEc2 } from '../../../support/fake-ec2';
import { type FakeGroup, fakeLifecycle } from '../../../support/fake-lifecycle';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

export const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../../events/node-lifecycle/${name}`, import.meta.url), 'utf8'));

export const CLUSTER_TAG = { key: 'swarm-reflex:cluster', value: 'prod' };
export const GROUP = 'swarm-reflex-prod-workers';
export const W1 = 'i-0a1b2c3d4e5f60001';
export const NOW = new Date('2026-11-24T12:00:05Z');

export const settings = {
  clusterTag: CLUSTER_TAG,
  lifecycleGroups: [GROUP, 'swarm-reflex-prod-managers'],
  lifecycleHooks: ['swarm-reflex-drain', 'swarm-reflex-join'],
  lifecycleDrainTimeoutSeconds: 600,
  launchJoinTimeoutSeconds: 900,
  onRebalance: 'notify' as const,
  scheduledDrainLeadSeconds: 3_600,
  updateAttempts: 6,
};

/** A swarm of 3 managers and 2 workers (w1 on W1, w2 on i-…0002), the worker group, EC2 — all fakes. */
export function world(options: { groups?: FakeGroup[]; instances?: Parameters<typeof fakeEc2>[0] } = {}) {
  const nodes = new FakeNodes()
    .add('m1', { role: 'manager', engineLabels: { 'aws.instance-id': 'i-0a1b2c3d4e5f6000a' } })
    .add('m2', { role: 'manager', engineLabels: { 'aws.instance-id': 'i-0a1b2c3d4e5f6000b' } })
    .add('m3', { role: 'manager', engineLabels: { 'aws.instance-id': 'i-0a1b2c3d4e5f6000c' } })
    .add('w1', { engineLabels: { 'aws.instance-id': W1 } })
    .add('w2', { engineLabels: { 'aws.instance-id': 'i-0a1b2c3d4e5f60002' } });
  const clock = { now: NOW };
  nodes.clock = () => clock.now;
  const tagged = { 'swarm-reflex:cluster': 'prod' };
  const ec2 = fakeEc2(
    options.instances ??
      ['1', '2', '9', 'a', 'b', 'c'].map((n) => ({
        id: `i-0a1b2c3d4e5f6000${n}`,
        state: 'running',
        privateIp: `10.0.1.${n.charCodeAt(0)}`,
        tags: { ...tagged },
        launchTime: new Date('2026-11-24T11:50:00Z'),
      })),
  );
  const asg = fakeLifecycle(
    options.groups ?? [
      {
        name: GROUP,
        instances: [
          { id: W1, state: 'InService' },
          { id: 'i-0a1b2c3d4e5f60002', state: 'InService' },
        ],
        hooks: [
          { name: 'swarm-reflex-join', transition: 'launch', heartbeatTimeout: 1_200 },
          { name: 'swarm-reflex-drain', transition: 'terminate', heartbeatTimeout: 600 },
        ],
      },
    ],
  );
  const notifier = recordingNotifier();
  const deps: NodeLifecycleDeps = {
    swarm: nodes,
    tasks: nodes,
    instances: createCloudInstances(ec2.client, CLUSTER_TAG),
    lifecycle: createLifecycleActions(asg.client),
    groups: createInstanceGroups(asg.client),
    notifier,
    clock: { now: () => clock.now },
    settings,
    ...fastRetry,
  };
  const restore = () => {
    ec2.mock.restore();
    asg.mock.restore();
  };
  return { nodes, ec2, asg, notifier, deps, clock, restore };
}

export const kinds = (outcomes: readonly LifecycleOutcome[]) =>
  outcomes.map((o) => `${o.kind}${'reason' in o ? `/${o.reason}` : ''}`);
