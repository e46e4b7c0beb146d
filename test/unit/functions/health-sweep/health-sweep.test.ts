import { GetParametersCommand } from '@aws-sdk/client-ssm';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assessQuorum,
  crossedWithin,
  type Finding,
  type HealthSweepDeps,
  NO_LEADER_REMIND_SECONDS,
  sweep,
} from '../../../../functions/health-sweep/health-sweep';
import { createWorkerGroup } from '../../../../shared/adapters/autoscaling';
import { createCloudInstances } from '../../../../shared/adapters/ec2';
import { createLogger } from '../../../../shared/adapters/logger';
import { createParameterStore } from '../../../../shared/adapters/ssm';
import type { Dispatcher } from '../../../../shared/domain/cloud';
import { DependencyUnavailableError, VersionConflictError } from '../../../../shared/domain/errors';
import { joinParameterNames } from '../../../../shared/domain/join-parameters';
import { LEAVING_LABEL, RESCHEDULE_LABEL, SCALE_IN_LABEL } from '../../../../shared/domain/labels';
import { formatLeaving } from '../../../../shared/domain/leaving';
import { fakeAutoScaling } from '../../../support/fake-autoscaling';
import { fakeEc2 } from '../../../support/fake-ec2';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { FakeServices } from '../../../support/fake-services';
import { fakeSsm } from '../../../support/fake-ssm';

const T = new Date('2026-11-24T12:00:00Z');
const sec = (s: number) => s * 1_000;
const ago = (s: number, from = T) => new Date(from.getTime() - sec(s));
const later = (s: number, from = T) => new Date(from.getTime() + sec(s));
const log = createLogger({ level: 'error', sink: () => {} });
const PREFIX = '/swarm-reflex/unit';

function recordingDispatcher() {
  const calls: string[] = [];
  const hooks: { fail?: Error } = {};
  const dispatcher: Dispatcher = {
    async replaceNode(nodeId) {
      if (hooks.fail) throw hooks.fail;
      calls.push(`replace-node ${nodeId}`);
      return { dispatched: true, to: 'swarm-reflex-unit-replace-node' };
    },
    async replaceInstance(instanceId) {
      if (hooks.fail) throw hooks.fail;
      calls.push(`replace-node instance ${instanceId}`);
      return { dispatched: true, to: 'swarm-reflex-unit-replace-node' };
    },
    async syncJoinTokens() {
      if (hooks.fail) throw hooks.fail;
      calls.push('sync-join-tokens');
      return { dispatched: true, to: 'swarm-reflex-unit-sync-join-tokens' };
    },
  };
  return { calls, hooks, dispatcher };
}

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function setup(settings: Partial<HealthSweepDeps['settings']> = {}) {
  const clock = { t: T };
  const nodes = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('m2', { role: 'manager' })
    .add('m3', { role: 'manager' })
    .add('w1')
    .add('w2');
  const services = new FakeServices(() => clock.t);
  const dispatch = recordingDispatcher();
  const notifier = recordingNotifier();
  const deps: HealthSweepDeps = {
    nodes,
    services,
    tasks: nodes,
    group: undefined,
    dispatcher: dispatch.dispatcher,
    joinParameters: { notChecked: 'unit test' },
    notifier,
    clock: { now: () => clock.t },
    settings: {
      nodeDownGraceSeconds: 300,
      sweepIntervalSeconds: 60,
      underReplicatedSeconds: 300,
      ...settings,
    },
  };
  const run = (at: Date, dryRun = false) => sweep(deps, { at, dryRun, log });
  /** Findings other than the always-there join-tokens "not checked". */
  const findings = async (at: Date, dryRun = false) =>
    (await run(at, dryRun)).outcomes.filter((f) => f.kind !== 'join-tokens');
  return { clock, nodes, services, dispatch, notifier, deps, run, findings };
}

function down(nodes: FakeNodes, hostname: string, since: Date) {
  const n = nodes.node(hostname);
  n.state = 'down';
  n.updatedAt = since;
  if (n.manager) n.manager = { ...n.manager, reachability: 'unreachable', leader: false };
}

describe('the window rule', () => {
  it('dispatches a node down forever exactly once per grace window, never before the grace period (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }).chain((interval) =>
          fc.record({
            interval: fc.constant(interval),
            grace: fc.integer({ min: interval, max: 20 * interval }),
            // Where the first sweep falls relative to the moment the node went down.
            start: fc.integer({ min: -40 * interval, max: 40 * interval }),
          }),
        ),
        ({ interval, grace, start }) => {
          const [i, g] = [sec(interval), sec(grace)];
          const sweeps = Math.ceil((5 * g) / i) + 50;
          const dispatchedIn = new Map<number, number>();
          for (let n = 0; n < sweeps; n++) {
            const downFor = sec(start) + n * i;
            if (!crossedWithin(downFor, g, i, g)) continue;
            expect(downFor).toBeGreaterThanOrEqual(g);
            const window = Math.floor(downFor / g);
            dispatchedIn.set(window, (dispatchedIn.get(window) ?? 0) + 1);
          }
          const first = sec(start);
          const last = sec(start) + (sweeps - 1) * i;
          // Every grace window [k×grace, (k+1)×grace) the sweeps fully covered: exactly once.
          for (let k = 1; (k + 1) * g <= last; k++) {
            if (k * g < first) continue;
            expect(dispatchedIn.get(k)).toBe(1);
          }
          for (const count of dispatchedIn.values()) expect(count).toBe(1);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('holds through the sweep itself: dispatches and one message, for any grace ≥ interval (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 10, max: 120 }).chain((interval) =>
          fc.record({
            interval: fc.constant(interval),
            grace: fc.integer({ min: interval, max: 6 * interval }),
            start: fc.integer({ min: -3 * interval, max: 3 * interval }),
          }),
        ),
        async ({ interval, grace, start }) => {
          const s = setup({ nodeDownGraceSeconds: grace, sweepIntervalSeconds: interval });
          down(s.nodes, 'w1', T);
          const at: Date[] = [];
          for (let t = start; t < start + 6 * grace + interval; t += interval) at.push(later(t));
          const dispatchedAt: number[] = [];
          for (const time of at) {
            const before = s.dispatch.calls.length;
            await s.run(time);
            if (s.dispatch.calls.length > before) dispatchedAt.push((time.getTime() - T.getTime()) / 1_000);
          }
          expect(dispatchedAt.every((d) => d >= grace)).toBe(true);
          const windows = dispatchedAt.map((d) => Math.floor(d / grace));
          expect(new Set(windows).size).toBe(windows.length);
          // Every grace window the sweeps covered in full had its dispatch (there are at least two).
          const last = (at.at(-1)?.getTime() ?? 0) / 1_000 - T.getTime() / 1_000;
          const covered: number[] = [];
          for (let k = Math.max(1, Math.ceil(start / grace)); (k + 1) * grace <= last; k++) covered.push(k);
          expect(covered.length).toBeGreaterThanOrEqual(2);
          expect(windows).toEqual(expect.arrayContaining(covered));
          const notices = s.notifier.notices.filter((n) => n.title.includes('w1'));
          expect(notices).toHaveLength(dispatchedAt.some((d) => d < grace + interval) ? 1 : 0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reports once-only findings in exactly one sweep, and grace shorter than the interval dispatches every sweep', () => {
    const hits = [0, 30, 59, 60, 61, 120].map((e) => crossedWithin(sec(300 + e), sec(300), sec(60)));
    expect(hits).toEqual([true, true, true, false, false, false]);
    expect(crossedWithin(sec(299), sec(300), sec(60))).toBe(false);
    expect(crossedWithin(Number.NaN, 0, sec(60))).toBe(false);
    expect([0, 61, 125, 3_600].map((e) => crossedWithin(sec(e), 0, sec(60), 0))).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });
});

describe('health sweep findings', () => {
  it('finds nothing wrong in a healthy swarm', async () => {
    const s = setup();
    s.services.add('web', { replicas: 2 });
    s.nodes.run('w1', 1, 'svc-web').run('w2', 1, 'svc-web');
    expect(await s.findings(T)).toEqual([]);
    expect(s.dispatch.calls).toEqual([]);
    expect(s.notifier.notices).toEqual([]);
  });

  it('watches a node down within the grace period, dispatches replace-node as it crosses it, then not again in that window', async () => {
    const s = setup();
    down(s.nodes, 'w1', ago(200));
    expect(await s.findings(T)).toEqual([
      expect.objectContaining({ kind: 'node-down', subject: 'w1', severity: 'info', action: 'watching' }),
    ]);
    expect(s.dispatch.calls).toEqual([]);

    const crossing = later(120); // down for 320 s: crossed 300 s in this sweep's minute
    const [finding] = await s.findings(crossing);
    expect(finding).toMatchObject({
      kind: 'node-down',
      node: s.nodes.node('w1').id,
      action: 'dispatched',
      since: ago(200).toISOString(),
    });
    expect(s.dispatch.calls).toEqual([`replace-node ${s.nodes.node('w1').id}`]);
    expect(s.notifier.notices).toEqual([
      expect.objectContaining({ severity: 'info', title: 'Node w1 is down: replace-node dispatched' }),
    ]);

    expect(await s.findings(later(60, crossing))).toEqual([
      expect.objectContaining({ kind: 'node-down', severity: 'warning', action: 'not-due' }),
    ]);
    // The next grace window: dispatched again (replace-node is idempotent), but no second message.
    expect(await s.findings(later(300, crossing))).toEqual([
      expect.objectContaining({ action: 'dispatched', detail: expect.stringContaining('again') }),
    ]);
    expect(s.dispatch.calls).toHaveLength(2);
    expect(s.notifier.notices).toHaveLength(1);
  });

  it('does not replace a down node that is being scaled in', async () => {
    const s = setup();
    down(s.nodes, 'w2', ago(301));
    s.nodes.node('w2').labels = { [SCALE_IN_LABEL]: ago(400).toISOString() };
    const found = await s.findings(T);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'node-down', subject: 'w2', action: 'leaving' }),
      ]),
    );
    expect(s.dispatch.calls).toEqual([]);
  });

  it.each([
    ['spot', true],
    ['terminate-hook', true],
    ['state-change', true],
    ['scheduled', true],
    ['rebalance', false],
  ] as const)('a down node AWS is taking (%s) is left to node-lifecycle: %s', async (cause, leftAlone) => {
    const s = setup();
    down(s.nodes, 'w2', ago(301));
    const window = cause === 'scheduled' ? { start: ago(600), end: undefined } : undefined;
    s.nodes.node('w2').labels = { [LEAVING_LABEL]: formatLeaving({ cause, since: ago(400), window }) };
    const found = await s.findings(T);
    const w2 = found.find((f) => f.subject === 'w2');
    if (leftAlone) {
      expect(w2).toMatchObject({
        kind: 'node-down',
        action: 'leaving',
        detail: expect.stringContaining(cause),
      });
      expect(s.dispatch.calls).toEqual([]);
    } else {
      // A rebalance recommendation is advice, not a departure: a node down past the grace is replaced.
      expect(w2).toMatchObject({ kind: 'node-down', action: 'dispatched' });
    }
  });

  it('in a dry run dispatches, changes and says nothing, but shows what it would do', async () => {
    const s = setup();
    down(s.nodes, 'w1', ago(301));
    s.services.add('web', { replicas: 3, labels: { [RESCHEDULE_LABEL]: 'true' } });
    s.nodes.add('w3');
    s.nodes.node('w3').createdAt = ago(30);
    s.nodes.run('w2', 3, 'svc-web');
    const found = await s.findings(T, true);
    expect(found.map((f) => `${f.kind} ${f.action}`)).toEqual(['node-down dry-run', 'rebalance dry-run']);
    expect(s.dispatch.calls).toEqual([]);
    expect(s.services.forced).toEqual([]);
    expect(s.notifier.notices).toEqual([]);
  });

  it('says in the finding that nothing was dispatched when there is no function to dispatch to', async () => {
    const s = setup();
    s.deps.dispatcher = {
      replaceNode: async () => ({ dispatched: false, detail: 'nothing was dispatched: no AWS here' }),
      replaceInstance: async () => ({ dispatched: false, detail: 'nothing was dispatched: no AWS here' }),
      syncJoinTokens: async () => ({ dispatched: false, detail: 'nothing was dispatched: no AWS here' }),
    };
    down(s.nodes, 'w1', ago(301));
    expect(await s.findings(T)).toEqual([
      expect.objectContaining({
        action: 'not-dispatched',
        severity: 'warning',
        detail: expect.stringContaining('nothing was dispatched: no AWS here'),
      }),
    ]);
    expect(s.notifier.notices).toEqual([
      expect.objectContaining({ severity: 'warning', title: 'Node w1 is down' }),
    ]);
  });

  it('reports a quorum at risk (2 of 3) as critical once, when the manager is marked down', async () => {
    const s = setup({ nodeDownGraceSeconds: 3_600 });
    const m3 = s.nodes.node('m3');
    // Raft noticed first: unreachable, but not yet marked down (its UpdatedAt is still old).
    m3.manager = { leader: false, reachability: 'unreachable', addr: '10.0.0.12:2377' };
    const [watching] = await s.findings(T);
    expect(watching).toMatchObject({
      kind: 'quorum',
      state: 'at-risk',
      action: 'watching',
      severity: 'critical',
    });
    expect(s.notifier.notices).toEqual([]);

    down(s.nodes, 'm3', later(5));
    const reports: Finding[][] = [];
    for (let k = 1; k <= 5; k++) reports.push(await s.findings(later(60 * k)));
    expect(reports.map((r) => r.find((f) => f.kind === 'quorum')?.action)).toEqual([
      'notified',
      'notified-earlier',
      'notified-earlier',
      'notified-earlier',
      'notified-earlier',
    ]);
    expect(reports[0]?.[0]).toMatchObject({ reachable: 2, managers: 3, since: later(5).toISOString() });
    expect(s.notifier.notices).toEqual([
      expect.objectContaining({
        severity: 'critical',
        title: 'Swarm quorum at risk: 2 of 3 managers reachable',
      }),
    ]);
  });

  it('reports a lost quorum, an even number of managers and a single manager', async () => {
    const s = setup({ nodeDownGraceSeconds: 3_600 });
    down(s.nodes, 'm2', ago(20));
    down(s.nodes, 'm3', ago(10));
    expect(assessQuorum(await s.nodes.listNodes())).toMatchObject({
      state: 'lost',
      reachable: 1,
      managers: 3,
    });
    const [lost] = await s.findings(T);
    expect(lost).toMatchObject({
      kind: 'quorum',
      state: 'lost',
      action: 'notified',
      since: ago(10).toISOString(),
    });
    expect(s.notifier.notices[0]?.text).toContain('--force-new-cluster');

    const even = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager' })
      .add('m4', { role: 'manager' });
    expect(assessQuorum(await even.listNodes())).toMatchObject({ state: 'at-risk', reachable: 4 });
    const five = new FakeNodes();
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) five.add(m, { role: 'manager' });
    expect(assessQuorum(await five.listNodes()).state).toBe('ok');
    down(five, 'm5', T);
    expect(assessQuorum(await five.listNodes()).state).toBe('ok');
    down(five, 'm4', T);
    expect(assessQuorum(await five.listNodes()).state).toBe('at-risk');
    expect(assessQuorum(await new FakeNodes().add('m1', { role: 'manager' }).listNodes()).state).toBe(
      'at-risk',
    );
  });

  it('reports "no leader" as a critical finding, not a crash, and says it every 10 minutes only', async () => {
    const s = setup();
    s.nodes.noLeader = true;
    const onTheTen = new Date('2026-11-24T12:10:00Z');
    const [f] = (await s.run(onTheTen)).outcomes;
    expect(f).toMatchObject({ kind: 'quorum', state: 'no-leader', severity: 'critical', action: 'notified' });
    await s.run(later(60, onTheTen));
    await s.run(later(NO_LEADER_REMIND_SECONDS - 60, onTheTen));
    expect(s.notifier.notices).toHaveLength(1);
    await s.run(later(NO_LEADER_REMIND_SECONDS, onTheTen));
    expect(s.notifier.notices).toHaveLength(2);
  });

  it('fails the sweep (to be retried) when Docker cannot be read at all', async () => {
    const s = setup();
    s.nodes.listNodes = async () => {
      throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    };
    await expect(s.run(T)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('reports a service under-replicated for longer than the threshold once, with what Swarm says', async () => {
    const s = setup();
    s.services.add('api', { replicas: 3 });
    s.nodes.run('w1', 1, 'svc-api');
    for (const id of ['p1', 'p2']) {
      s.nodes.tasks.push({
        id,
        serviceId: 'svc-api',
        nodeId: '',
        state: 'pending',
        desiredState: 'running',
        createdAt: ago(id === 'p1' ? 250 : 100),
        error: 'no suitable node (scheduling constraints not satisfied on 5 nodes)',
      });
    }
    // A task shut down on purpose is not "should be running".
    s.nodes.tasks.push({
      id: 'old',
      serviceId: 'svc-api',
      nodeId: 'x',
      state: 'failed',
      desiredState: 'shutdown',
    });
    expect(await s.findings(T)).toEqual([
      expect.objectContaining({
        kind: 'under-replicated',
        subject: 'api',
        running: 1,
        desired: 3,
        since: ago(250).toISOString(),
        action: 'watching',
        severity: 'info',
      }),
    ]);
    const at = later(60);
    const [crossed] = await s.findings(at);
    expect(crossed).toMatchObject({ action: 'notified', severity: 'warning' });
    expect(crossed?.detail).toContain('no suitable node');
    expect((await s.findings(later(60, at)))[0]).toMatchObject({ action: 'notified-earlier' });
    expect((await s.findings(later(3_600, at)))[0]).toMatchObject({ action: 'notified-earlier' });
    expect(s.notifier.notices).toEqual([
      expect.objectContaining({
        severity: 'warning',
        title: 'Service api under-replicated: 1 of 3 tasks running',
      }),
    ]);
  });

  it('dates a shortfall with no waiting task from the service update, and ignores global and scaled-to-zero services', async () => {
    const s = setup();
    s.services.add('batch', { replicas: 2, updatedAt: ago(330) });
    s.services.add('agent', { mode: 'global' });
    s.services.add('off', { replicas: 0 });
    expect(await s.findings(T)).toEqual([
      expect.objectContaining({
        subject: 'batch',
        running: 0,
        action: 'notified',
        since: ago(330).toISOString(),
      }),
    ]);
  });

  it('completes a pending scale-in of an empty node through the worker group, and reports one still draining', async () => {
    const s = setup();
    const asg = fakeAutoScaling(
      { name: 'workers', min: 0, max: 10, desired: 3, instances: ['i-0aaa', 'i-0bbb', 'i-0ccc'] },
      () => T,
    );
    cleanups.push(() => asg.mock.restore());
    s.deps.group = createWorkerGroup(() => asg.client(), 'workers');
    s.nodes.add('w3', { engineLabels: { 'aws.instance-id': 'i-0ccc' } });
    s.nodes.node('w3').labels = { [SCALE_IN_LABEL]: ago(120).toISOString() };
    s.nodes.node('w2').labels = { [SCALE_IN_LABEL]: ago(60).toISOString() };
    s.nodes.run('w2', 2, 'svc-web');

    const dry = await s.findings(T, true);
    expect(dry.map((f) => `${f.subject} ${f.action}`).sort()).toEqual(['w2 draining', 'w3 dry-run']);
    expect(asg.terminated).toEqual([]);

    const found = await s.findings(T);
    expect(found.map((f) => `${f.kind} ${f.subject} ${f.action}`).sort()).toEqual([
      'scale-in w2 draining',
      'scale-in w3 completed',
    ]);
    expect(asg.terminated).toEqual(['i-0ccc']);
    expect(s.nodes.removed).toEqual(['w3']);
    expect(s.notifier.notices).toEqual([
      expect.objectContaining({ severity: 'info', title: expect.stringContaining('w3') }),
    ]);
  });

  it('reports a failed scale-in completion as a finding and goes on', async () => {
    const s = setup();
    const asg = fakeAutoScaling(
      { name: 'workers', min: 0, max: 10, desired: 3, instances: ['i-0ccc'] },
      () => T,
    );
    cleanups.push(() => asg.mock.restore());
    asg.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    s.deps.group = createWorkerGroup(() => asg.client(), 'workers');
    s.nodes.add('w3', { engineLabels: { 'aws.instance-id': 'i-0ccc' } });
    s.nodes.node('w3').labels = { [SCALE_IN_LABEL]: ago(120).toISOString() };
    s.services.add('batch', { replicas: 1, updatedAt: ago(301) });
    const found = await s.findings(T);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'scale-in',
          action: 'failed',
          detail: expect.stringContaining('Throttling'),
        }),
        expect.objectContaining({ kind: 'under-replicated', subject: 'batch', action: 'notified' }),
      ]),
    );
  });

  it('hands back a drain older than SCALE_IN_DRAIN_TIMEOUT_SECONDS, and still completes the other scale-ins', async () => {
    const s = setup({ scaleInDrainTimeoutSeconds: 600 });
    const asg = fakeAutoScaling(
      { name: 'workers', min: 0, max: 10, desired: 3, instances: ['i-0bbb', 'i-0ccc'] },
      () => T,
    );
    cleanups.push(() => asg.mock.restore());
    s.deps.group = createWorkerGroup(() => asg.client(), 'workers');
    s.nodes.add('w3', { engineLabels: { 'aws.instance-id': 'i-0ccc' } });
    s.nodes.node('w3').labels = { [SCALE_IN_LABEL]: ago(120).toISOString() };
    // w2 has drained for 15 minutes with a task that never leaves.
    s.nodes.node('w2').labels = { [SCALE_IN_LABEL]: ago(900).toISOString() };
    s.nodes.node('w2').availability = 'drain';
    s.nodes.run('w2', 1, 'svc-stuck');
    const found = await s.findings(T);
    expect(found.map((f) => `${f.kind} ${f.subject} ${f.action}`).sort()).toEqual([
      'scale-in w2 handed-back',
      'scale-in w3 completed',
    ]);
    expect(s.nodes.node('w2')).toMatchObject({ availability: 'active', labels: {} });
    expect(asg.terminated).toEqual(['i-0ccc']);
  });

  it('force-updates an opted-in service a new worker holds none of, once, and never a service without the label', async () => {
    const s = setup();
    s.services.add('web', { replicas: 4, labels: { [RESCHEDULE_LABEL]: 'true' }, updatedAt: ago(3_600) });
    s.services.add('db', { replicas: 4, updatedAt: ago(3_600) });
    s.services.add('api', { replicas: 4, labels: { [RESCHEDULE_LABEL]: 'yes' }, updatedAt: ago(3_600) });
    s.nodes.run('w1', 2, 'svc-web').run('w2', 2, 'svc-web');
    s.nodes.run('w1', 2, 'svc-db').run('w2', 2, 'svc-db');
    s.nodes.run('w1', 2, 'svc-api').run('w2', 2, 'svc-api');
    s.nodes.add('w3');
    s.nodes.node('w3').createdAt = ago(30);
    // A drained new node and a new manager are not where tasks should go.
    s.nodes.add('w4');
    s.nodes.node('w4').createdAt = ago(30);
    s.nodes.node('w4').availability = 'drain';

    const found = await s.findings(T);
    expect(found).toEqual([
      expect.objectContaining({
        kind: 'rebalance',
        subject: 'web',
        action: 'force-updated',
        since: ago(30).toISOString(),
      }),
    ]);
    expect(found[0]?.detail).toMatch(/^w3 joined/);
    expect(s.services.forced).toEqual(['web']);
    expect(s.services.service('db').version).toBe(10);
    expect(s.notifier.notices).toEqual([expect.objectContaining({ title: 'Rebalanced web onto w3' })]);

    // The force update moved web's UpdatedAt past w3's join: not again, though the tasks have not moved yet.
    expect(await s.findings(later(60))).toEqual([]);
    expect(s.services.forced).toEqual(['web']);
  });

  it('does not restart an opted-in service whose extra tasks are pending for lack of room (unplaced tasks crowd no node)', async () => {
    const s = setup();
    s.services.add('web', { replicas: 4, labels: { [RESCHEDULE_LABEL]: 'true' }, updatedAt: ago(3_600) });
    // One task runs on each worker; two wait without a node ("no suitable node").
    s.nodes.run('w1', 1, 'svc-web').run('w2', 1, 'svc-web');
    for (const i of [0, 1]) {
      s.nodes.tasks.push({
        id: `pending${i}`,
        serviceId: 'svc-web',
        nodeId: '',
        state: 'pending',
        desiredState: 'running',
      });
    }
    s.nodes.add('w3');
    s.nodes.node('w3').createdAt = ago(30);
    const found = await s.findings(T);
    expect(found.filter((f) => f.kind === 'rebalance')).toEqual([]);
    expect(s.services.forced).toEqual([]);
  });

  it('leaves a rebalance for later on a version conflict, and reports a failed force update', async () => {
    const s = setup();
    s.services.add('web', { replicas: 2, labels: { [RESCHEDULE_LABEL]: 'true' }, updatedAt: ago(3_600) });
    s.nodes.run('w1', 2, 'svc-web');
    s.nodes.add('w3');
    s.nodes.node('w3').createdAt = ago(30);
    s.services.failNext = new VersionConflictError('update out of sequence');
    expect((await s.findings(T))[0]).toMatchObject({ kind: 'rebalance', action: 'conflict' });
    s.services.failNext = new DependencyUnavailableError('docker', 'Docker API unavailable (500)');
    expect((await s.findings(T))[0]).toMatchObject({
      kind: 'rebalance',
      action: 'failed',
      severity: 'warning',
    });
    expect(s.services.forced).toEqual([]);
    expect(s.notifier.notices).toEqual([]);
  });

  it('does not rebalance when the new node already has tasks, or when no node holds two', async () => {
    const s = setup();
    s.services.add('web', { replicas: 2, labels: { [RESCHEDULE_LABEL]: 'true' }, updatedAt: ago(3_600) });
    s.nodes.run('w1', 1, 'svc-web').run('w2', 1, 'svc-web');
    s.nodes.add('w3');
    s.nodes.node('w3').createdAt = ago(30);
    expect(await s.findings(T)).toEqual([]);
  });
});

describe('health sweep: manager addresses for joining nodes (SSM mocked at the SDK boundary)', () => {
  function withSsm() {
    const s = setup();
    const ssm = fakeSsm(() => T);
    cleanups.push(() => ssm.mock.restore());
    s.deps.joinParameters = { settingsPrefix: PREFIX, store: createParameterStore(ssm.client) };
    const names = joinParameterNames(PREFIX);
    const joinFindings = async () => (await s.run(T)).outcomes.filter((f) => f.kind === 'join-tokens');
    return { ...s, ssm, names, joinFindings };
  }

  it('dispatches sync-join-tokens when the parameter is missing or lists other managers, reading nothing else', async () => {
    const s = withSsm();
    expect(await s.joinFindings()).toEqual([
      expect.objectContaining({ action: 'dispatched', subject: s.names.managers, since: null }),
    ]);
    s.ssm.store.set(s.names.managers, { value: '10.0.0.10:2377', type: 'String', modified: ago(600) });
    expect(await s.joinFindings()).toEqual([
      expect.objectContaining({
        action: 'dispatched',
        since: ago(600).toISOString(),
        detail: expect.stringContaining('10.0.0.10:2377,10.0.0.11:2377,10.0.0.12:2377'),
      }),
    ]);
    expect(s.dispatch.calls).toEqual(['sync-join-tokens', 'sync-join-tokens']);
    // Only the one String parameter: never the SecureString join tokens.
    const asked = s.ssm.mock.commandCalls(GetParametersCommand).flatMap((c) => c.args[0].input.Names ?? []);
    expect(new Set(asked)).toEqual(new Set([s.names.managers]));
    expect(s.notifier.notices).toEqual([]);
  });

  it('finds nothing when the parameter matches the reachable managers', async () => {
    const s = withSsm();
    s.ssm.store.set(s.names.managers, {
      value: '10.0.0.10:2377,10.0.0.11:2377,10.0.0.12:2377',
      type: 'String',
      modified: ago(600),
    });
    expect(await s.joinFindings()).toEqual([]);
    expect(s.dispatch.calls).toEqual([]);
  });

  it('reports an SSM failure as a finding, and says when the check is skipped', async () => {
    const s = withSsm();
    s.ssm.hooks.fail = Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    expect(await s.joinFindings()).toEqual([
      expect.objectContaining({
        action: 'read-failed',
        detail: expect.stringContaining('AccessDeniedException'),
      }),
    ]);
    const plain = setup();
    expect((await plain.run(T)).outcomes).toEqual([
      expect.objectContaining({
        kind: 'join-tokens',
        action: 'not-checked',
        detail: expect.stringContaining('unit test'),
      }),
    ]);
  });
});

describe('half-done replacements', () => {
  const tagged = (nodeId: string, since: Date, state = 'running') => ({
    id: 'i-0000000000000f001',
    state,
    privateIp: '10.0.0.99',
    tags: {
      'swarm-reflex:cluster': 'unit',
      'swarm-reflex:replacing-node': nodeId,
      'swarm-reflex:replacing-since': since.toISOString(),
      'swarm-reflex:replacing-hostname': 'w9',
    },
  });

  it('dispatches the completion of a replacement whose node left the swarm but whose instance still runs', async () => {
    const s = setup();
    // EC2 mocked at the SDK boundary; the sweep lists through the real adapter.
    const ec2 = fakeEc2([]);
    cleanups.push(() => ec2.mock.restore());
    const cloud = createCloudInstances(ec2.client, { key: 'swarm-reflex:cluster', value: 'unit' });
    s.deps.replacements = { list: cloud.listReplacements };
    const use = (list: ReturnType<typeof tagged>[]) => {
      ec2.instances.splice(0, ec2.instances.length, ...list);
    };
    use([tagged('nodegone', ago(90))]);
    const found = await s.findings(T);
    expect(found).toEqual([
      expect.objectContaining({ kind: 'replacement-unfinished', subject: 'w9', action: 'dispatched' }),
    ]);
    expect(s.dispatch.calls).toEqual(['replace-node instance i-0000000000000f001']);
    // Not again in the next sweep; again one grace window later.
    await s.findings(later(60));
    expect(s.dispatch.calls).toHaveLength(1);
    await s.findings(later(300));
    expect(s.dispatch.calls).toHaveLength(2);
    // Terminated, or still tagged for a node that is in the swarm, or too fresh: nothing.
    use([tagged('nodegone', ago(90), 'shutting-down')]);
    expect(await s.findings(later(600))).toEqual([]);
    use([tagged(s.nodes.node('w1').id, ago(90))]);
    expect(await s.findings(later(600))).toEqual([]);
    use([tagged('nodegone', ago(10))]);
    expect(await s.findings(T)).toEqual([
      expect.objectContaining({ kind: 'replacement-unfinished', action: 'watching' }),
    ]);
    expect(s.dispatch.calls).toHaveLength(2);
  });

  it('reports a failed EC2 read as a finding and still runs every other check, so that no retry repeats its messages', async () => {
    const s = setup();
    const ec2 = fakeEc2([tagged('nodegone', ago(90))]);
    cleanups.push(() => ec2.mock.restore());
    const cloud = createCloudInstances(ec2.client, { key: 'swarm-reflex:cluster', value: 'unit' });
    s.deps.replacements = { list: cloud.listReplacements };
    ec2.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' });
    down(s.nodes, 'w2', ago(301));
    const { outcomes } = await s.run(T);
    expect(outcomes).toEqual([
      expect.objectContaining({ kind: 'node-down', node: s.nodes.node('w2').id, action: 'dispatched' }),
      expect.objectContaining({
        kind: 'replacement-unfinished',
        severity: 'warning',
        action: 'read-failed',
        detail: expect.stringContaining('RequestLimitExceeded'),
      }),
      // The checks after it ran too.
      expect.objectContaining({ kind: 'join-tokens', action: 'not-checked' }),
    ]);
    expect(s.dispatch.calls).toEqual([`replace-node ${s.nodes.node('w2').id}`]);
  });
});

describe('health-sweep and the opt-outs and the pause', () => {
  const PAUSE = { since: ago(600), by: 'alice@laptop', reason: 'db migration', source: 'swarm' as const };

  for (const [what, set, reason] of [
    ['labelled exclude=TRUE', { labels: { 'com.swarm-reflex.exclude': 'TRUE' } }, 'excluded'],
    ['labelled exclude (empty)', { labels: { 'com.swarm-reflex.exclude': '' } }, 'excluded'],
    ['drained by a person', { availability: 'drain' as const }, 'maintenance'],
    ['paused by a person', { availability: 'pause' as const }, 'maintenance'],
  ] as const) {
    it(`reports a down node ${what} (${reason}) and never dispatches replace-node for it`, async () => {
      const s = setup();
      down(s.nodes, 'w1', ago(301));
      Object.assign(s.nodes.node('w1'), set);
      const found = await s.findings(T);
      expect(found).toEqual([
        expect.objectContaining({ kind: 'node-down', subject: 'w1', action: reason, severity: 'info' }),
      ]);
      expect(found[0]?.detail).toContain('replace-node is not dispatched');
      expect(s.dispatch.calls).toEqual([]);
      expect(s.notifier.notices).toEqual([]);
    });
  }

  it('while paused: reports everything, says it is paused (who, why, since), dispatches and changes nothing', async () => {
    const s = setup();
    s.deps.pause = { read: async () => PAUSE };
    down(s.nodes, 'w1', ago(301));
    s.services.add('web', { replicas: 3, labels: { [RESCHEDULE_LABEL]: 'true' } });
    s.nodes.add('w3');
    s.nodes.node('w3').createdAt = ago(30);
    s.nodes.run('m1', 3, 'svc-web');
    s.nodes.node('w2').labels = { [SCALE_IN_LABEL]: ago(120).toISOString() };
    s.nodes.node('w2').availability = 'drain';
    const result = await s.run(T);
    expect(result.outcomes[0]).toMatchObject({
      kind: 'paused',
      action: 'paused',
      severity: 'warning',
      by: 'alice@laptop',
      why: 'db migration',
      since: ago(600).toISOString(),
    });
    const acts = result.outcomes.filter((f) => f.kind !== 'paused' && f.kind !== 'join-tokens');
    expect(acts.map((f) => `${f.kind} ${f.action}`).sort()).toEqual([
      'node-down paused',
      'rebalance paused',
      'scale-in paused',
    ]);
    expect(s.dispatch.calls).toEqual([]);
    expect(s.services.forced).toEqual([]);
    expect(s.nodes.removed).toEqual([]);
    expect(s.nodes.node('w2').labels[SCALE_IN_LABEL]).toBeDefined();
  });

  it('while paused still tells a person what needs one (a lost quorum)', async () => {
    const s = setup();
    s.deps.pause = { read: async () => PAUSE };
    down(s.nodes, 'm2', ago(30));
    down(s.nodes, 'm3', ago(30));
    for (const m of ['m2', 'm3']) {
      const manager = s.nodes.node(m).manager;
      if (manager) s.nodes.node(m).manager = { ...manager, reachability: 'unreachable' };
    }
    const result = await s.run(T);
    expect(result.outcomes.find((f) => f.kind === 'quorum')).toMatchObject({ action: 'notified' });
    expect(s.notifier.notices.map((n) => n.severity)).toContain('critical');
  });

  it('holds every action, and says so, when the pause cannot be read', async () => {
    const s = setup();
    s.deps.pause = {
      read: async () => {
        throw new DependencyUnavailableError('aws', 'reading parameters: AWS answered ThrottlingException');
      },
    };
    down(s.nodes, 'w1', ago(301));
    const result = await s.run(T);
    expect(result.outcomes[0]).toMatchObject({ kind: 'paused', action: 'read-failed', by: null });
    expect(result.outcomes[0]?.detail).toContain('ThrottlingException');
    expect(result.outcomes.find((f) => f.kind === 'node-down')).toMatchObject({ action: 'paused' });
    expect(s.dispatch.calls).toEqual([]);
  });

  it('acts again once the pause is lifted', async () => {
    const s = setup();
    let paused: typeof PAUSE | undefined = PAUSE;
    s.deps.pause = { read: async () => paused };
    down(s.nodes, 'w1', ago(301));
    await s.run(T);
    expect(s.dispatch.calls).toEqual([]);
    paused = undefined;
    const result = await s.run(T);
    expect(result.outcomes.some((f) => f.kind === 'paused')).toBe(false);
    expect(s.dispatch.calls).toEqual([`replace-node ${s.nodes.node('w1').id}`]);
  });
});
