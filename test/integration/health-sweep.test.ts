import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/health-sweep/handler';
import type { Finding } from '../../functions/health-sweep/health-sweep';
import { createLambdaDispatcher } from '../../shared/adapters/lambda';
import { createParameterStore } from '../../shared/adapters/ssm';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { joinParameterNames, managerAddresses } from '../../shared/domain/join-parameters';
import { RESCHEDULE_LABEL } from '../../shared/domain/labels';
import {
  BUSYBOX_IMAGE,
  type ChatReceiver,
  requireRealHarness,
  startChatReceiver,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { fakeLambda } from '../support/fake-lambda';
import { fakeSsm } from '../support/fake-ssm';
import { memoryLogger, realNotifier } from '../support/real-deps';

const describeReal = requireRealHarness(describe, ['swarm']);
const PREFIX = '/swarm-reflex/it-sweep';
const FUNCTIONS = {
  replaceNode: 'swarm-reflex-it-replace-node',
  syncJoinTokens: 'swarm-reflex-it-sync-join-tokens',
};
// Small on purpose: real Swarm takes 10–15 s to mark a dead node down.
const GRACE_S = 20;
const INTERVAL_S = 5;
const UNDER_REPLICATED_S = 10;

interface Sweep {
  at: number;
  outcomes: readonly Finding[];
}
interface ChatMessage {
  severity: string;
  title: string;
  text: string;
}
interface TaskView {
  ServiceID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

describeReal('health-sweep on a real multi-node swarm (Lambda and SSM mocked at the SDK boundary)', () => {
  let swarm: TestSwarm;
  let docker: Docker;
  let chat: ChatReceiver;
  let lambda: ReturnType<typeof fakeLambda>;
  let ssm: ReturnType<typeof fakeSsm>;
  let handler: ReturnType<typeof makeHandler>;
  let nextAt = 0;

  /**
   * One scheduled sweep, as EventBridge would run it: wait for the next tick of the schedule
   * (every INTERVAL_S, on the wall clock), then invoke the handler with that tick as the
   * event's time. Consecutive calls are consecutive ticks.
   */
  async function tick(): Promise<Sweep> {
    const step = INTERVAL_S * 1_000;
    nextAt = Math.max(nextAt + step, Math.ceil(Date.now() / step) * step);
    await sleep(nextAt - Date.now());
    const result = await handler({
      version: '0',
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      time: new Date(nextAt).toISOString(),
      detail: {},
    });
    return { at: nextAt, outcomes: result.outcomes };
  }

  /** Sweeps every tick until `done` says so (it sees every sweep so far), within `maxMs`. */
  async function sweepUntil(done: (sweeps: Sweep[]) => boolean, maxMs: number): Promise<Sweep[]> {
    const sweeps: Sweep[] = [];
    const deadline = Date.now() + maxMs;
    while (!done(sweeps)) {
      if (Date.now() > deadline) {
        throw new Error(
          `gave up after ${sweeps.length} sweeps; last: ${JSON.stringify(sweeps.at(-1)?.outcomes)}`,
        );
      }
      sweeps.push(await tick());
    }
    return sweeps;
  }

  const messages = (title: string) => (chat.messages as ChatMessage[]).filter((m) => m.title === title);
  const findings = (sweeps: Sweep[], pick: (f: Finding) => boolean) =>
    sweeps.flatMap((s) => s.outcomes.filter(pick).map((f) => ({ at: s.at, ...f })));
  const tasksOf = async (service: string) =>
    (
      (await docker.listTasks({
        filters: { service: [service], 'desired-state': ['running'] },
      })) as TaskView[]
    ).filter((t) => t.Status.State === 'running');

  async function setAvailability(name: string, availability: 'drain' | 'active') {
    const node = docker.getNode(swarm.node(name).nodeId);
    const info = (await node.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
    await node.update({
      _query: { version: info.Version.Index },
      _body: { ...info.Spec, Availability: availability },
    });
  }

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 3, workers: 2, label: 'health-sweep' }),
      startChatReceiver(),
    ]);
    docker = swarm.docker();
    lambda = fakeLambda();
    ssm = fakeSsm();
    const client = async () => docker;
    handler = makeHandler({
      logger: memoryLogger().logger,
      dryRun: false,
      nodes: createSwarmNodes(client),
      services: createSwarmServices(client),
      tasks: createSwarmTasks(client),
      group: undefined,
      dispatcher: createLambdaDispatcher(lambda.client, FUNCTIONS),
      joinParameters: { settingsPrefix: PREFIX, store: createParameterStore(ssm.client) },
      notifier: realNotifier('health-sweep', { webhook: chat.url }),
      clock: { now: () => new Date() },
      settings: {
        nodeDownGraceSeconds: GRACE_S,
        sweepIntervalSeconds: INTERVAL_S,
        underReplicatedSeconds: UNDER_REPLICATED_S,
      },
    });
    // Tasks go to the workers only, so that where they run is easy to reason about.
    for (const m of ['m1', 'm2', 'm3']) await setAvailability(m, 'drain');
  });

  afterAll(async () => {
    lambda?.mock.restore();
    ssm?.mock.restore();
    await chat?.close();
    await swarm?.teardown();
  });

  it('finds nothing wrong in a healthy swarm, and dispatches sync-join-tokens only while the manager addresses are stale', async () => {
    const [first] = await sweepUntil((s) => s.length === 1, 30_000);
    expect(first?.outcomes).toEqual([
      expect.objectContaining({ kind: 'join-tokens', action: 'dispatched', since: null }),
    ]);
    expect(lambda.invocations).toEqual([
      { functionName: FUNCTIONS.syncJoinTokens, type: 'Event', payload: {} },
    ]);
    // What sync-join-tokens would write.
    const want = managerAddresses(await createSwarmNodes(async () => docker).listNodes()).join(',');
    expect(want.split(',')).toHaveLength(3);
    ssm.store.set(joinParameterNames(PREFIX).managers, { value: want, type: 'String', modified: new Date() });
    const [second] = await sweepUntil((s) => s.length === 1, 30_000);
    expect(second?.outcomes).toEqual([]);
    expect(lambda.invocations).toHaveLength(1);
    expect(chat.messages).toEqual([]);
  });

  it('rebalances the com.df.reschedule=true service onto a new worker, once, and leaves the other service alone', async () => {
    await swarm.createService({ name: 'spread', replicas: 4, labels: { [RESCHEDULE_LABEL]: 'true' } });
    await swarm.createService({ name: 'fixed', replicas: 4 });
    await Promise.all([swarm.waitForRunningTasks('spread', 4), swarm.waitForRunningTasks('fixed', 4)]);
    const fixedBefore = (await docker.getService('fixed').inspect()) as { Version: { Index: number } };
    const spreadBefore = (await docker.getService('spread').inspect()) as { Version: { Index: number } };

    const w3 = await swarm.addNode('worker', { name: 'w3' });
    const sweeps = await sweepUntil(
      (s) => s.length >= 4 && findings(s, (f) => f.kind === 'rebalance').length > 0,
      60_000,
    );
    expect(findings(sweeps, (f) => f.kind === 'rebalance')).toEqual([
      expect.objectContaining({
        subject: 'spread',
        action: 'force-updated',
        detail: expect.stringMatching(/^w3 joined/),
      }),
    ]);

    // Swarm spreads the force-updated service's tasks; the new node gets some of them.
    const deadline = Date.now() + 60_000;
    while (!(await tasksOf('spread')).some((t) => t.NodeID === w3.nodeId)) {
      if (Date.now() > deadline) throw new Error('no task of spread ever ran on w3');
      await sleep(500);
    }
    await swarm.waitForRunningTasks('spread', 4);
    // More sweeps: the force update moved spread's UpdatedAt past w3's join, so never again.
    const after = await sweepUntil((s) => s.length === 3, 30_000);
    expect(findings(after, (f) => f.kind === 'rebalance')).toEqual([]);

    const fixedAfter = (await docker.getService('fixed').inspect()) as { Version: { Index: number } };
    const spreadAfter = (await docker.getService('spread').inspect()) as { Version: { Index: number } };
    expect(fixedAfter.Version.Index).toBe(fixedBefore.Version.Index);
    expect(spreadAfter.Version.Index).toBeGreaterThan(spreadBefore.Version.Index);
    expect((await tasksOf('fixed')).some((t) => t.NodeID === w3.nodeId)).toBe(false);
    expect(messages('Rebalanced spread onto w3')).toHaveLength(1);
    expect(chat.messages).toHaveLength(1);
  });

  it('reports a service that cannot be placed, once, when it has been under-replicated for the threshold', async () => {
    await docker.createService({
      Name: 'stuck',
      TaskTemplate: {
        ContainerSpec: { Image: BUSYBOX_IMAGE, Command: ['sleep', '3600'], StopGracePeriod: 1_000_000_000 },
        Placement: { Constraints: ['node.labels.zone==nowhere'] },
      },
      Mode: { Replicated: { Replicas: 2 } },
    });
    const seen = (s: Sweep[]) => findings(s, (f) => f.kind === 'under-replicated' && f.subject === 'stuck');
    const sweeps = await sweepUntil((s) => {
      const stuck = seen(s);
      return stuck.filter((f) => f.action === 'notified-earlier').length >= 3;
    }, 90_000);
    const actions = seen(sweeps).map((f) => f.action);
    expect(actions.filter((a) => a === 'notified')).toHaveLength(1);
    // In order: watching while below the threshold, told once as it crossed it, then quiet.
    const told = actions.indexOf('notified');
    expect(actions.slice(0, told).every((a) => a === 'watching')).toBe(true);
    expect(actions.slice(told + 1).every((a) => a === 'notified-earlier')).toBe(true);
    const [message, ...more] = messages('Service stuck under-replicated: 0 of 2 tasks running');
    expect(more).toEqual([]);
    expect(message?.severity).toBe('warning');
    expect(message?.text).toContain('no suitable node');
    await docker.getService('stuck').remove();
  });

  it('does not restart an opted-in service whose extra tasks wait for room when a worker joins that cannot take them', async () => {
    // Two replicas fit (one per zone=a worker), two stay pending without a node.
    for (const name of ['w1', 'w2']) {
      const node = docker.getNode(swarm.node(name).nodeId);
      const info = (await node.inspect()) as {
        Version: { Index: number };
        Spec: { Labels?: Record<string, string> };
      };
      await node.update({
        version: info.Version.Index,
        ...info.Spec,
        Labels: { ...info.Spec.Labels, zone: 'a' },
      });
    }
    await docker.createService({
      Name: 'roomless',
      Labels: { [RESCHEDULE_LABEL]: 'true' },
      TaskTemplate: {
        ContainerSpec: { Image: BUSYBOX_IMAGE, Command: ['sleep', '3600'], StopGracePeriod: 1_000_000_000 },
        Placement: { Constraints: ['node.labels.zone==a'], MaxReplicas: 1 },
      },
      Mode: { Replicated: { Replicas: 4 } },
    });
    await swarm.waitForRunningTasks('roomless', 2);
    const before = (await docker.getService('roomless').inspect()) as { Version: { Index: number } };
    // A worker joins that the service cannot use (no zone label): it stays idle for it.
    await swarm.addNode('worker', { name: 'w4' });
    const sweeps = await sweepUntil((s) => s.length >= 3, 30_000);
    expect(findings(sweeps, (f) => f.kind === 'rebalance' && f.subject === 'roomless')).toEqual([]);
    const after = (await docker.getService('roomless').inspect()) as { Version: { Index: number } };
    expect(after.Version.Index).toBe(before.Version.Index);
    await docker.getService('roomless').remove();
  });

  it('dispatches replace-node for a killed worker once per grace window, never within the grace period', async () => {
    const w2 = swarm.node('w2');
    const before = lambda.invocations.length;
    await swarm.killNode('w2');
    const w2Findings = (s: Sweep[]) => findings(s, (f) => f.kind === 'node-down' && f.subject === 'w2');
    // Until w2 has been down for three grace windows and one interval.
    const sweeps = await sweepUntil((s) => {
      const last = w2Findings(s).at(-1);
      return (
        last !== undefined && last.at - Date.parse(last.since ?? '') >= (3 * GRACE_S + INTERVAL_S) * 1_000
      );
    }, 150_000);
    const seen = w2Findings(sweeps);
    const downSince = Date.parse(seen.at(-1)?.since ?? '');
    const dispatched = seen.filter((f) => f.action === 'dispatched');
    const windows = dispatched.map((f) => Math.floor((f.at - downSince) / (GRACE_S * 1_000)));
    expect(windows).toEqual([1, 2, 3]);
    for (const f of seen) {
      if (f.at - downSince < GRACE_S * 1_000) expect(f.action).toBe('watching');
      else expect(['dispatched', 'not-due']).toContain(f.action);
    }
    const invoked = lambda.invocations.slice(before).filter((i) => i.functionName === FUNCTIONS.replaceNode);
    expect(invoked).toEqual(
      Array.from({ length: 3 }, () => ({
        functionName: FUNCTIONS.replaceNode,
        type: 'Event',
        payload: { node: w2.nodeId },
      })),
    );
    expect(messages('Node w2 is down: replace-node dispatched')).toHaveLength(1);
  });

  it('reports a quorum at risk (3 managers, one killed) as critical, once', async () => {
    const syncBefore = lambda.invocations.filter((i) => i.functionName === FUNCTIONS.syncJoinTokens).length;
    const chatBefore = chat.messages.length;
    await swarm.killNode('m3');
    const quorum = (s: Sweep[]) => findings(s, (f) => f.kind === 'quorum');
    const sweeps = await sweepUntil(
      (s) => quorum(s).filter((f) => f.action === 'notified-earlier').length >= 3,
      90_000,
    );
    const seen = quorum(sweeps);
    expect(seen.every((f) => f.severity === 'critical' && f.kind === 'quorum' && f.state === 'at-risk')).toBe(
      true,
    );
    expect(seen.filter((f) => f.action === 'notified')).toEqual([
      expect.objectContaining({ reachable: 2, managers: 3 }),
    ]);
    const [message, ...more] = messages('Swarm quorum at risk: 2 of 3 managers reachable');
    expect(more).toEqual([]);
    expect(message).toMatchObject({ severity: 'critical', text: expect.stringContaining('m3') });
    // m3's address left the list new nodes join with: sync-join-tokens was dispatched.
    expect(
      lambda.invocations.filter((i) => i.functionName === FUNCTIONS.syncJoinTokens).length,
    ).toBeGreaterThan(syncBefore);
    // Nothing else was said in the meantime but about m3 (and w2's later grace windows stay quiet).
    const titles = (chat.messages.slice(chatBefore) as ChatMessage[]).map((m) => m.title);
    expect(titles.filter((t) => !t.includes('m3'))).toEqual([
      'Swarm quorum at risk: 2 of 3 managers reachable',
    ]);
  });
});
