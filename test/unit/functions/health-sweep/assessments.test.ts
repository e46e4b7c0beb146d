import { describe, expect, it } from 'vitest';
import {
  assessQuorum,
  rebalanceCandidates,
  underReplicated,
} from '../../../../functions/health-sweep/assessments';
import { RESCHEDULE_LABEL, SCALE_IN_LABEL } from '../../../../shared/domain/labels';
import type { TaskState } from '../../../../shared/domain/swarm';
import { FakeNodes } from '../../../support/fake-nodes';
import { FakeServices } from '../../../support/fake-services';

// The sweep's pure readings of the swarm: raft's majority rule, which services run short, and
// which opted-in services a force update may spread onto new workers.

const T = new Date('2026-11-24T12:00:00Z');
const ago = (s: number) => new Date(T.getTime() - s * 1_000);

function managers(count: number) {
  const nodes = new FakeNodes();
  for (let i = 1; i <= count; i++) nodes.add(`m${i}`, { role: 'manager', updatedAt: ago(3_600 + i) });
  return nodes;
}

const unreachable = (nodes: FakeNodes, hostname: string, state: 'down' | 'ready', since: Date) =>
  Object.assign(nodes.node(hostname), {
    state,
    updatedAt: since,
    manager: { leader: false, reachability: 'unreachable', addr: '' },
  });

describe('assessQuorum: more than half of the managers reachable', () => {
  it('is lost at exactly half, not one more', () => {
    const four = managers(4);
    unreachable(four, 'm3', 'down', ago(60));
    unreachable(four, 'm4', 'down', ago(30));
    expect(assessQuorum(four.nodes)).toMatchObject({ state: 'lost', reachable: 2, managers: 4 });
    const five = managers(5);
    unreachable(five, 'm4', 'down', ago(60));
    unreachable(five, 'm5', 'down', ago(30));
    expect(assessQuorum(five.nodes)).toMatchObject({ state: 'at-risk', reachable: 3, managers: 5 });
  });

  it('counts a manager the node list gives no manager status as unreachable', () => {
    const three = managers(3);
    three.node('m3').manager = undefined;
    expect(assessQuorum(three.nodes)).toMatchObject({ state: 'at-risk', reachable: 2 });
    expect(assessQuorum(three.nodes).unreachable.map((n) => n.hostname)).toEqual(['m3']);
  });

  it('has nothing to say without managers in view', () => {
    expect(assessQuorum(new FakeNodes().add('w1').nodes)).toMatchObject({
      state: 'ok',
      managers: 0,
      since: undefined,
    });
  });

  it('dates the condition by the latest unreachable manager, else by the latest manager change', () => {
    const three = managers(3);
    unreachable(three, 'm2', 'down', ago(90));
    unreachable(three, 'm3', 'down', ago(30));
    expect(assessQuorum(three.nodes).since).toEqual(ago(30));
    const even = managers(4);
    expect(assessQuorum(even.nodes)).toMatchObject({ state: 'at-risk', since: ago(3_601) });
  });

  it('is settled only when every unreachable manager is marked down', () => {
    const five = managers(5);
    unreachable(five, 'm4', 'down', ago(60));
    unreachable(five, 'm5', 'ready', ago(30));
    expect(assessQuorum(five.nodes).settled).toBe(false);
    unreachable(five, 'm5', 'down', ago(30));
    expect(assessQuorum(five.nodes).settled).toBe(true);
  });
});

const task = (p: Partial<TaskState> & Pick<TaskState, 'nodeId'>): TaskState => ({
  id: `t-${Math.random().toString(36).slice(2)}`,
  serviceId: 'svc-web',
  state: 'running',
  desiredState: 'running',
  ...p,
});

describe('underReplicated: replicated services running fewer tasks than their replicas', () => {
  it('never reports a service that is not in replicated mode, whatever replica count it reports', () => {
    const services = new FakeServices().add('web', { replicas: 2 }).services;
    const other = { ...services[0], mode: 'other' as const } as (typeof services)[number];
    expect(underReplicated([other], [])).toEqual([]);
    expect(underReplicated(services, [])).toHaveLength(1);
  });

  it('counts only the tasks meant to run: one shutting down neither runs nor waits', () => {
    const services = new FakeServices().add('web', { replicas: 2 }).services;
    const tasks = [
      task({ nodeId: 'n1' }),
      task({ nodeId: 'n2', state: 'failed', desiredState: 'shutdown', error: 'exit 1', createdAt: ago(900) }),
      task({ nodeId: '', state: 'pending', error: 'no suitable node', createdAt: ago(120) }),
    ];
    expect(underReplicated(services, tasks)).toEqual([
      expect.objectContaining({ running: 1, desired: 2, since: ago(120), errors: ['no suitable node'] }),
    ]);
    expect(
      underReplicated(services, [task({ nodeId: 'n1' }), task({ nodeId: 'n2' }), tasks[1] as TaskState]),
    ).toEqual([]);
  });

  it('dates the shortfall by the oldest task that should run and does not, never by a running one', () => {
    const services = new FakeServices().add('web', { replicas: 3 }).services;
    const tasks = [
      task({ nodeId: 'n1', createdAt: ago(3_600) }),
      task({ nodeId: '', state: 'pending', createdAt: ago(300) }),
      task({ nodeId: '', state: 'pending', createdAt: ago(200) }),
    ];
    expect(underReplicated(services, tasks)).toEqual([
      expect.objectContaining({ running: 1, since: ago(300), errors: [] }),
    ]);
  });
});

describe('rebalanceCandidates: opted-in services whose tasks did not spread onto new workers', () => {
  const joinedLate = ago(60);
  /** web (opted in, updated 2 h ago) runs 2 tasks on w1; w2 joined a minute ago and runs none. */
  function view(p: { labels?: Record<string, string> } = {}) {
    const services = new FakeServices().add('web', {
      replicas: 2,
      updatedAt: ago(7_200),
      labels: p.labels ?? { [RESCHEDULE_LABEL]: 'true' },
    });
    const nodes = new FakeNodes().add('m1', { role: 'manager' }).add('w1').add('w2');
    for (const n of nodes.nodes) n.createdAt = ago(86_400);
    nodes.node('w2').createdAt = joinedLate;
    const w1 = nodes.node('w1').id;
    const tasks = [task({ nodeId: w1 }), task({ nodeId: w1 })];
    return { services: services.services, nodes, tasks };
  }
  const idleOf = (v: ReturnType<typeof view>, tasks = v.tasks) =>
    rebalanceCandidates(v.services, v.nodes.nodes, tasks).map((c) => c.idle.map((n) => n.hostname));

  it('finds the idle new worker and the crowded node', () => {
    const v = view();
    expect(rebalanceCandidates(v.services, v.nodes.nodes, v.tasks)).toEqual([
      expect.objectContaining({
        idle: [v.nodes.node('w2')],
        crowded: { node: v.nodes.node('w1'), tasks: 2 },
      }),
    ]);
  });

  it('never touches a service that has not opted in, or one that is not replicated', () => {
    expect(idleOf(view({ labels: {} }))).toEqual([]);
    expect(idleOf(view({ labels: { [RESCHEDULE_LABEL]: 'yes' } }))).toEqual([]);
    const v = view();
    v.services[0] = { ...(v.services[0] as (typeof v.services)[number]), mode: 'global' };
    expect(idleOf(v)).toEqual([]);
  });

  it('offers only Ready, active workers that joined strictly after the last update and are not leaving', () => {
    const cases: Array<(v: ReturnType<typeof view>) => void> = [
      (v) => Object.assign(v.nodes.node('w2'), { role: 'manager' }),
      (v) => Object.assign(v.nodes.node('w2'), { state: 'down' }),
      (v) => Object.assign(v.nodes.node('w2'), { availability: 'drain' }),
      (v) => Object.assign(v.nodes.node('w2'), { labels: { [SCALE_IN_LABEL]: T.toISOString() } }),
      (v) => Object.assign(v.nodes.node('w2'), { createdAt: ago(7_200) }),
    ];
    for (const change of cases) {
      const v = view();
      change(v);
      expect(idleOf(v), change.toString()).toEqual([]);
    }
  });

  it('counts as crowding only running tasks of this service meant to run, placed on a node', () => {
    const v = view();
    const w1 = v.nodes.node('w1').id;
    const notCrowding = [
      [task({ nodeId: w1 }), task({ nodeId: w1, state: 'starting' })],
      [task({ nodeId: w1 }), task({ nodeId: w1, serviceId: 'svc-other' })],
      [task({ nodeId: w1 }), task({ nodeId: w1, desiredState: 'shutdown' })],
      [task({ nodeId: w1 }), task({ nodeId: '', state: 'pending' })],
    ];
    for (const tasks of notCrowding) expect(idleOf(v, tasks), JSON.stringify(tasks[1])).toEqual([]);
  });

  it('takes a node with a task of the service still starting as not idle, and one with only a failed task as idle', () => {
    const v = view();
    const w2 = v.nodes.node('w2').id;
    expect(idleOf(v, [...v.tasks, task({ nodeId: w2, state: 'starting' })])).toEqual([]);
    expect(idleOf(v, [...v.tasks, task({ nodeId: w2, state: 'failed' })])).toEqual([['w2']]);
  });

  it('names the most crowded node', () => {
    const v = view();
    v.nodes.add('w3');
    const w3 = v.nodes.node('w3');
    w3.createdAt = ago(86_400);
    const tasks = [task({ nodeId: w3.id }), ...v.tasks, task({ nodeId: w3.id }), task({ nodeId: w3.id })];
    expect(rebalanceCandidates(v.services, v.nodes.nodes, tasks)[0]?.crowded).toEqual({ node: w3, tasks: 3 });
    const tied = [task({ nodeId: w3.id }), task({ nodeId: w3.id }), ...v.tasks];
    expect(rebalanceCandidates(v.services, v.nodes.nodes, tied)[0]?.crowded).toEqual({ node: w3, tasks: 2 });
  });
});
