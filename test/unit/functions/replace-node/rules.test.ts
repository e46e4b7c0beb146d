import { describe, expect, it } from 'vitest';
import {
  checkInstance,
  decideGhostRemoval,
  decideReplacement,
  quorumRefusal,
} from '../../../../functions/replace-node/rules';
import type { InstanceInfo } from '../../../../shared/domain/cloud';
import { FakeNodes } from '../../../support/fake-nodes';

// The safety rules of a replacement, each pinned at its edge: quorum, the grace period, and
// the checks that make an instance this node's, of this cluster, before it is terminated.

const now = new Date('2026-11-24T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1_000);
const safety = { nodeDownGraceSeconds: 120, maxDownShare: 0.34, maxReplacementsPerHour: 2 };
const cluster = { key: 'swarm-reflex:cluster', value: 'prod' };

/** 3 managers and 3 workers; `down` are down for an hour. */
function swarmWith(down: string[] = []) {
  const swarm = new FakeNodes();
  for (const name of ['m1', 'm2', 'm3']) {
    swarm.add(name, { role: 'manager', state: down.includes(name) ? 'down' : 'ready', updatedAt: ago(3600) });
  }
  for (const name of ['w1', 'w2', 'w3']) {
    swarm.add(name, { state: down.includes(name) ? 'down' : 'ready', updatedAt: ago(3600) });
  }
  return swarm;
}

describe('quorumRefusal', () => {
  it('counts a manager the node list gives no manager status as unreachable', () => {
    const swarm = swarmWith();
    swarm.node('m3').manager = undefined;
    expect(quorumRefusal(swarm.nodes)).toBeUndefined();
    swarm.node('m2').manager = undefined;
    expect(quorumRefusal(swarm.nodes)).toMatchObject({ kind: 'refuse', reason: 'quorum-lost' });
  });
});

describe('decideReplacement: the grace period', () => {
  it('replaces a node down for exactly the grace period, not a second less', () => {
    const swarm = swarmWith(['w1']);
    const w1 = swarm.node('w1');
    expect(decideReplacement(swarm.nodes, w1, now, safety, 0, ago(120))).toEqual({ kind: 'proceed' });
    expect(decideReplacement(swarm.nodes, w1, now, safety, 0, ago(119))).toMatchObject({
      reason: 'within-grace',
    });
  });
});

describe('decideReplacement: a manager leaves only when the others keep a majority', () => {
  it('counts managers only: workers neither add to the majority nor to the managers', () => {
    const swarm = swarmWith(['m3']);
    expect(decideReplacement(swarm.nodes, swarm.node('m3'), now, safety, 0)).toEqual({ kind: 'proceed' });
  });

  it('refuses to remove a manager still counted reachable when the rest would have no majority', () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager', state: 'down', updatedAt: ago(3600) })
      .add('m3', { role: 'manager', state: 'down', updatedAt: ago(3600) });
    // Raft has not noticed m2 yet: 2 of 3 reachable, but without m2 only 1 of 2.
    swarm.node('m2').manager = { leader: false, reachability: 'reachable', addr: '' };
    expect(
      decideReplacement(swarm.nodes, swarm.node('m2'), now, { ...safety, maxDownShare: 0.7 }, 0),
    ).toMatchObject({
      kind: 'refuse',
      reason: 'would-lose-quorum',
      severity: 'critical',
    });
  });

  it('counts a remaining manager without manager status as unreachable', () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager' })
      .add('m4', { role: 'manager' })
      .add('m5', { role: 'manager', state: 'down', updatedAt: ago(3600) });
    swarm.node('m4').manager = undefined;
    // 3 of 5 reachable; without m5, 3 of 4.
    expect(decideReplacement(swarm.nodes, swarm.node('m5'), now, safety, 0)).toEqual({ kind: 'proceed' });
  });
});

describe('decideGhostRemoval: no storm guard, no hourly limit, but quorum and the grace period', () => {
  it('refuses while the swarm has lost quorum', () => {
    const swarm = swarmWith(['m2', 'm3', 'w1']);
    swarm.node('m2').manager = { leader: false, reachability: 'unreachable', addr: '' };
    expect(decideGhostRemoval(swarm.nodes, swarm.node('w1'), now, 120, ago(3600))).toMatchObject({
      kind: 'refuse',
      reason: 'quorum-lost',
      severity: 'critical',
    });
  });

  it('refuses a node that is not down', () => {
    const swarm = swarmWith();
    expect(decideGhostRemoval(swarm.nodes, swarm.node('w1'), now, 120, ago(3600))).toMatchObject({
      kind: 'refuse',
      reason: 'node-not-down',
    });
  });

  it('removes a ghost down for exactly the grace period, not a second less', () => {
    const swarm = swarmWith(['w1', 'w2', 'w3']);
    const w1 = swarm.node('w1');
    expect(decideGhostRemoval(swarm.nodes, w1, now, 120, ago(120))).toEqual({ kind: 'proceed' });
    expect(decideGhostRemoval(swarm.nodes, w1, now, 120, ago(119))).toMatchObject({ reason: 'within-grace' });
  });

  it('demotes a ghost manager only when the others keep a majority', () => {
    const swarm = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager', state: 'down', updatedAt: ago(3600) })
      .add('m3', { role: 'manager' });
    expect(decideGhostRemoval(swarm.nodes, swarm.node('m2'), now, 120, ago(3600))).toEqual({
      kind: 'proceed',
    });
    const pair = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager', state: 'down', updatedAt: ago(3600) })
      .add('m3', { role: 'manager' })
      .add('m4', { role: 'manager' });
    pair.node('m4').manager = { leader: false, reachability: 'unreachable', addr: '' };
    expect(decideGhostRemoval(pair.nodes, pair.node('m2'), now, 120, ago(3600))).toMatchObject({
      reason: 'quorum-lost',
    });
  });
});

describe('checkInstance: only this node’s instance, of this cluster', () => {
  const instance = (p: Partial<InstanceInfo> = {}): InstanceInfo => ({
    id: 'i-0000000000000a001',
    state: 'running',
    privateIp: '10.0.0.11',
    tags: { [cluster.key]: cluster.value },
    launchTime: new Date('2026-11-24T08:00:00Z'),
    ...p,
  });
  const nodes = () =>
    new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('w1', {
        state: 'down',
        address: '10.0.0.11',
        engineLabels: { 'aws.instance-id': 'i-0000000000000a001' },
      })
      .add('w2', { address: '10.0.0.12' });

  it('lets the labelled instance of this cluster go', () => {
    const swarm = nodes();
    expect(checkInstance(instance(), cluster, swarm.node('w1'), swarm.nodes)).toBeUndefined();
  });

  it('says which node has no instance, by its address or as unknown', () => {
    const swarm = nodes();
    expect(checkInstance(undefined, cluster, swarm.node('w1'), swarm.nodes)?.detail).toContain(
      'address 10.0.0.11',
    );
    swarm.node('w1').address = '';
    expect(checkInstance(undefined, cluster, swarm.node('w1'), swarm.nodes)).toMatchObject({
      reason: 'no-instance',
      detail: expect.stringContaining('address unknown'),
    });
  });

  it('never touches an instance without this cluster’s tag, nor any when no cluster tag is configured', () => {
    const swarm = nodes();
    const w1 = swarm.node('w1');
    expect(checkInstance(instance({ tags: {} }), cluster, w1, swarm.nodes)).toMatchObject({
      reason: 'not-cluster-instance',
    });
    expect(
      checkInstance(instance({ tags: { [cluster.key]: 'staging' } }), cluster, w1, swarm.nodes),
    ).toMatchObject({ reason: 'not-cluster-instance' });
    expect(checkInstance(instance(), undefined, w1, swarm.nodes)).toMatchObject({
      reason: 'not-cluster-instance',
    });
  });

  it('refuses an instance found by address that was launched after the node joined (the address was reused)', () => {
    const swarm = nodes();
    const w1 = swarm.node('w1');
    w1.engineLabels = {};
    const joined = w1.createdAt.getTime();
    expect(
      checkInstance(instance({ launchTime: new Date(joined + 1) }), cluster, w1, swarm.nodes),
    ).toMatchObject({
      reason: 'instance-in-use',
    });
    expect(
      checkInstance(instance({ launchTime: new Date(joined) }), cluster, w1, swarm.nodes),
    ).toBeUndefined();
    expect(checkInstance(instance({ launchTime: undefined }), cluster, w1, swarm.nodes)).toBeUndefined();
  });

  it('trusts the instance label over the launch time', () => {
    const swarm = nodes();
    const w1 = swarm.node('w1');
    const later = new Date(w1.createdAt.getTime() + 60_000);
    expect(checkInstance(instance({ launchTime: later }), cluster, w1, swarm.nodes)).toBeUndefined();
  });

  it('refuses an instance that also backs another node, by its label or its address', () => {
    const swarm = nodes();
    const w1 = swarm.node('w1');
    swarm.node('w2').address = '10.0.0.11';
    expect(checkInstance(instance(), cluster, w1, swarm.nodes)).toMatchObject({
      reason: 'instance-in-use',
      detail: expect.stringContaining(`also backs node w2 (${swarm.node('w2').id}, ready)`),
    });
    const labelled = nodes();
    labelled.node('w2').engineLabels = { 'aws.instance-id': 'i-0000000000000a001' };
    expect(checkInstance(instance(), cluster, labelled.node('w1'), labelled.nodes)).toMatchObject({
      reason: 'instance-in-use',
    });
    expect(
      checkInstance(instance({ privateIp: undefined }), cluster, labelled.node('w1'), labelled.nodes)?.detail,
    ).toContain('i-0000000000000a001 (no address) also backs node w2');
  });

  it('never matches nodes by an address the instance does not have', () => {
    const swarm = nodes();
    swarm.node('w2').address = '';
    expect(
      checkInstance(instance({ privateIp: '' }), cluster, swarm.node('w1'), swarm.nodes),
    ).toBeUndefined();
    expect(
      checkInstance(instance({ privateIp: undefined }), cluster, swarm.node('w1'), swarm.nodes),
    ).toBeUndefined();
  });
});
