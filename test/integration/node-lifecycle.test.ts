import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LifecycleOutcome } from '../../functions/node-lifecycle/node-lifecycle';
import { createInstanceGroups } from '../../shared/adapters/autoscaling';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLifecycleActions } from '../../shared/adapters/lifecycle';
import { createSwarmNodes, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { joinParameterNames } from '../../shared/domain/join-parameters';
import { LEAVING_LABEL } from '../../shared/domain/labels';
import { ACTIVE_TASK_STATES } from '../../shared/domain/swarm';
import type { ChatReceiver, SwarmNode, TestSwarm } from '../harness';
import { BUSYBOX_IMAGE, requireRealHarness, runBootstrap, startChatReceiver, startSwarm } from '../harness';
import { type FakeInstance, fakeEc2 } from '../support/fake-ec2';
import { fakeLifecycle } from '../support/fake-lifecycle';
import { memoryLogger, realNotifier } from '../support/real-deps';

// The handler module builds its default dependencies at import (as at a Lambda cold start): it needs AWS settings.
process.env.CLOUD = 'aws';
process.env.CLUSTER_TAG = 'swarm-reflex:cluster=it';
const { makeHandler } = await import('../../functions/node-lifecycle/handler');

const describeReal = requireRealHarness(describe, ['swarm']);
const SECOND = 1_000_000_000;
const WORKERS = 'it-workers';
const MANAGERS = 'it-managers';
const TAG = { 'swarm-reflex:cluster': 'it' };
const id = (n: number) => `i-0a1b2c3d4e5f6${String(n).padStart(4, '0')}`;

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../events/node-lifecycle/${name}`, import.meta.url), 'utf8')) as {
    detail: Record<string, unknown>;
  };
const terminateHook = (instance: string, group = WORKERS) => {
  const e = fixture('terminate-hook.json');
  Object.assign(e.detail, {
    EC2InstanceId: instance,
    AutoScalingGroupName: group,
    LifecycleHookName: 'swarm-reflex-drain',
  });
  return e;
};
const spot = (instance: string) => {
  const e = fixture('spot-interruption.json');
  e.detail['instance-id'] = instance;
  return e;
};

interface NodeView {
  ID: string;
  Spec: { Availability: string; Role: string; Labels?: Record<string, string> };
  Description: { Hostname: string };
  Status: { State: string };
}

/**
 * node-lifecycle against a real swarm (3 managers, 4 workers, one more joined by the real
 * bootstrap), Auto Scaling and EC2 mocked at the SDK boundary, chat a real HTTP receiver.
 */
describeReal('node-lifecycle drains before AWS takes a node (real swarm)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;
  let ec2: ReturnType<typeof fakeEc2>;
  let asg: ReturnType<typeof fakeLifecycle>;
  const workers: SwarmNode[] = [];

  const handler = () => {
    const s = parseSettings({
      WEBHOOK_TOKENS: 'node-lifecycle-it-token-000',
      CLOUD: 'aws',
      CLUSTER_TAG: 'swarm-reflex:cluster=it',
      LIFECYCLE_GROUPS: `${WORKERS},${MANAGERS}`,
      LIFECYCLE_DRAIN_TIMEOUT_SECONDS: '3',
      LAUNCH_JOIN_TIMEOUT_SECONDS: '60',
    });
    const docker = swarm.docker();
    const clusterTag = { key: 'swarm-reflex:cluster', value: 'it' };
    return makeHandler({
      logger: memoryLogger().logger,
      dryRun: false,
      swarm: createSwarmNodes(async () => docker),
      tasks: createSwarmTasks(async () => docker),
      instances: createCloudInstances(ec2.client, clusterTag),
      lifecycle: createLifecycleActions(asg.client),
      groups: createInstanceGroups(asg.client),
      notifier: realNotifier('node-lifecycle', { webhook: chat.url }),
      clock: { now: () => new Date() },
      settings: { ...s, clusterTag },
    });
  };
  const send = async (event: unknown) => (await handler()(event)).outcomes as LifecycleOutcome[];
  const reconcile = () => send({ reconcile: true });

  const nodeNamed = async (hostname: string) =>
    ((await swarm.docker().listNodes()) as NodeView[]).find((n) => n.Description.Hostname === hostname);
  const activeTasksOn = async (node: SwarmNode) =>
    (
      (await swarm.docker().listTasks({ filters: { node: [node.nodeId] } })) as Array<{
        Status?: { State?: string };
      }>
    ).filter((t) => ACTIVE_TASK_STATES.has(t.Status?.State ?? '')).length;
  const until = <T>(what: string, check: () => Promise<T | undefined>, timeout = 60_000): Promise<T> =>
    vi.waitUntil(check, { timeout, interval: 500 }).catch(() => {
      throw new Error(`timed out waiting for ${what}`);
    }) as Promise<T>;
  /** Runs the reconcile pass every second until it reports `reason` for `hostname`. */
  const reconcileUntil = (hostname: string, reason: string, timeoutMs = 60_000) =>
    until(
      `${hostname}: ${reason}`,
      async () =>
        (await reconcile()).find((o) => o.hostname === hostname && 'reason' in o && o.reason === reason),
      timeoutMs,
    );
  const chatTitles = () => (chat.messages as Array<{ title: string; severity: string }>).map((m) => m.title);
  const instance = (n: number, node?: SwarmNode): FakeInstance => ({
    id: id(n),
    state: 'running',
    privateIp: node?.address ?? `10.99.0.${n}`,
    tags: { ...TAG },
    launchTime: new Date(),
  });

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 3, label: 'node-lifecycle' }),
      startChatReceiver(),
    ]);
    for (let n = 1; n <= 4; n++) {
      workers.push(await swarm.addNode('worker', { engineLabels: { 'aws.instance-id': id(n) } }));
    }
    for (const w of workers) await swarm.waitForNodeState(w.name, 'ready', 60_000);
    // The managers carry no instance label: they are found by address, as a node without the bootstrap is.
    const managers = ['m1', 'm2', 'm3'].map((m, i) => instance(101 + i, swarm.node(m)));
    ec2 = fakeEc2([...workers.map((w, i) => instance(i + 1, w)), ...managers, instance(5), instance(6)]);
    asg = fakeLifecycle([
      {
        name: WORKERS,
        instances: [1, 2, 3, 4].map((n) => ({ id: id(n), state: 'InService' })),
        hooks: [
          {
            name: 'swarm-reflex-join',
            transition: 'launch',
            heartbeatTimeout: 900,
            defaultResult: 'ABANDON',
          },
          {
            name: 'swarm-reflex-drain',
            transition: 'terminate',
            heartbeatTimeout: 900,
            defaultResult: 'CONTINUE',
          },
        ],
      },
      {
        name: MANAGERS,
        instances: managers.map((m) => ({ id: m.id, state: 'InService' })),
        hooks: [{ name: 'swarm-reflex-drain', transition: 'terminate', heartbeatTimeout: 900 }],
      },
    ]);
  }, 300_000);

  afterAll(async () => {
    ec2?.mock.restore();
    asg?.mock.restore();
    await chat?.close();
    await swarm?.teardown();
  }, 120_000);

  const group = (name: string) => asg.groups.find((g) => g.name === name);
  const setState = (name: string, instanceId: string, state: string) => {
    const g = group(name);
    const i = g?.instances.find((x) => x.id === instanceId);
    if (i) i.state = state;
    else g?.instances.push({ id: instanceId, state });
  };

  it('drains on a terminate hook, its tasks move, and the hook is completed only once the node is empty and gone', async () => {
    const [w1] = workers as [SwarmNode];
    await swarm.docker().createService({
      Name: 'web',
      TaskTemplate: {
        ContainerSpec: { Image: BUSYBOX_IMAGE, Command: ['sleep', '3600'], StopGracePeriod: 2 * SECOND },
        Placement: { Constraints: [`node.hostname==${w1.name}`] },
      },
      Mode: { Replicated: { Replicas: 1 } },
    });
    await swarm.waitForRunningTasks('web', 1, 60_000);
    // Let it run anywhere but a manager: its task moves to another worker once w1 drains.
    const web = swarm.docker().getService('web');
    const spec = (await web.inspect()) as {
      Version: { Index: number };
      Spec: Record<string, unknown> & { TaskTemplate: Record<string, unknown> };
    };
    setState(WORKERS, id(1), 'Terminating:Wait');
    const [drained] = await send(terminateHook(id(1)));
    expect(drained).toMatchObject({ kind: 'acted', reason: 'drained', hostname: w1.name });
    await web.update({
      _query: { version: spec.Version.Index },
      _body: {
        ...spec.Spec,
        TaskTemplate: { ...spec.Spec.TaskTemplate, Placement: { Constraints: ['node.role==worker'] } },
      },
    });
    const node = await nodeNamed(w1.name);
    expect(node?.Spec.Availability).toBe('drain');
    expect(node?.Spec.Labels?.[LEAVING_LABEL]).toMatch(new RegExp(`^terminate-hook \\S+ ${WORKERS}$`));
    // While a task is on it, the hook waits.
    if ((await activeTasksOn(w1)) > 0) {
      expect((await reconcile()).find((o) => o.hostname === w1.name)).toMatchObject({ reason: 'tasks-left' });
      expect(asg.completed).toEqual([]);
    }
    const left = await reconcileUntil(w1.name, 'left');
    expect(left).toMatchObject({ kind: 'acted', instance: id(1) });
    expect(await nodeNamed(w1.name)).toBeUndefined();
    expect(asg.completed).toEqual([
      { group: WORKERS, hook: 'swarm-reflex-drain', instance: id(1), result: 'CONTINUE' },
    ]);
    await swarm.waitForRunningTasks('web', 1, 60_000);
    expect(chatTitles()).toEqual(
      expect.arrayContaining([`${w1.name} left the swarm before AWS takes its instance`]),
    );
    // The next tests start from empty workers.
    await web.remove();
    for (const w of workers.slice(1)) {
      await until(`${w.name} to run no task`, async () =>
        (await activeTasksOn(w)) === 0 ? true : undefined,
      );
    }
  });

  it('completes after LIFECYCLE_DRAIN_TIMEOUT_SECONDS when a task pinned to the node never stops', async () => {
    const w2 = workers[1] as SwarmNode;
    await swarm.docker().createService({
      Name: 'stuck',
      TaskTemplate: {
        // busybox sleep as pid 1 ignores SIGTERM: it stops only when the (hour-long) grace period ends.
        ContainerSpec: { Image: BUSYBOX_IMAGE, Command: ['sleep', '3600'], StopGracePeriod: 3_600 * SECOND },
        Placement: { Constraints: [`node.hostname==${w2.name}`] },
        RestartPolicy: { Condition: 'none' },
      },
      Mode: { Replicated: { Replicas: 1 } },
    });
    await swarm.waitForRunningTasks('stuck', 1, 60_000);
    setState(WORKERS, id(2), 'Terminating:Wait');
    await send(terminateHook(id(2)));
    expect((await reconcile()).find((o) => o.hostname === w2.name)).toMatchObject({ reason: 'tasks-left' });
    expect(await activeTasksOn(w2)).toBe(1);
    await new Promise((r) => setTimeout(r, 3_100));
    const left = (await reconcile()).find((o) => o.hostname === w2.name);
    expect(left).toMatchObject({ kind: 'acted', reason: 'left' });
    expect(asg.completed.filter((c) => c.instance === id(2))).toHaveLength(1);
    expect(await nodeNamed(w2.name)).toBeUndefined();
    await swarm.docker().getService('stuck').remove();
  });

  it('delivered twice at once: one drain, one removal, one completion', async () => {
    const w3 = workers[2] as SwarmNode;
    setState(WORKERS, id(3), 'Terminating:Wait');
    const before = (await nodeNamed(w3.name))?.ID;
    const results = await Promise.all([send(terminateHook(id(3))), send(terminateHook(id(3)))]);
    const kinds = results.flat().map((o) => `${o.kind}/${'reason' in o ? o.reason : ''}`);
    // The second one finds the first one's claim, or the node gone already: either way it does nothing.
    expect(kinds.filter((k) => k === 'acted/left')).toHaveLength(1);
    expect(kinds.filter((k) => k !== 'acted/left')).toEqual([
      expect.stringMatching(/^(skipped\/in-progress|ignored\/no-node)$/),
    ]);
    expect(asg.completed.filter((c) => c.instance === id(3))).toHaveLength(1);
    expect(before).toBeDefined();
    expect(await nodeNamed(w3.name)).toBeUndefined();
    // And the reconcile pass afterwards finds nothing left to do for it.
    expect((await reconcile()).filter((o) => o.instance === id(3))).toEqual([]);
  });

  it('drains at once on a Spot interruption and removes the node as soon as it is down, without the grace period', async () => {
    const w4 = workers[3] as SwarmNode;
    const [drained] = await send(spot(id(4)));
    expect(drained).toMatchObject({ kind: 'acted', reason: 'drained', hostname: w4.name });
    expect((await nodeNamed(w4.name))?.Spec.Availability).toBe('drain');
    await swarm.killNode(w4.name);
    await swarm.waitForNodeState(w4.name, 'down', 60_000);
    const removed = await reconcileUntil(w4.name, 'removed', 20_000);
    expect(removed).toMatchObject({ kind: 'acted' });
    expect(await nodeNamed(w4.name)).toBeUndefined();
    expect(asg.completed.filter((c) => c.instance === id(4))).toEqual([]);
  });

  it('completes a launch hook once the node the real bootstrap joined is Ready, and abandons one that never joins', async () => {
    const prefix = '/swarm-reflex/it';
    const names = joinParameterNames(prefix);
    const tokens = await swarm.joinTokens();
    const w5 = await swarm.addNode('worker', { name: 'w5', join: false });
    const ec2w5 = ec2.instances.find((i) => i.id === id(5));
    if (ec2w5) Object.assign(ec2w5, { privateIp: w5.address, launchTime: new Date() });
    const never = ec2.instances.find((i) => i.id === id(6));
    if (never) never.launchTime = new Date(Date.now() - 3_600_000);
    setState(WORKERS, id(5), 'Pending:Wait');
    setState(WORKERS, id(6), 'Pending:Wait');
    const first = await reconcile();
    expect(first.find((o) => o.instance === id(5))).toMatchObject({ kind: 'waiting', reason: 'not-joined' });
    expect(first.find((o) => o.instance === id(6))).toMatchObject({ kind: 'acted', reason: 'abandoned' });

    const result = await runBootstrap(w5, {
      role: 'worker',
      settingsPrefix: prefix,
      instanceId: id(5),
      parameters: {
        [names.worker]: tokens.worker,
        [names.manager]: tokens.manager,
        [names.managers]: `${swarm.manager.address}:2377`,
      },
    });
    expect(result.code, result.stderr).toBe(0);
    const completed = await until('the launch hook of w5 to be completed', async () =>
      (await reconcile()).find((o) => o.instance === id(5) && o.kind === 'acted'),
    );
    expect(completed).toMatchObject({ reason: 'completed', hostname: 'w5' });
    expect(asg.completed.filter((c) => c.hook === 'swarm-reflex-join')).toEqual([
      { group: WORKERS, hook: 'swarm-reflex-join', instance: id(6), result: 'ABANDON' },
      { group: WORKERS, hook: 'swarm-reflex-join', instance: id(5), result: 'CONTINUE' },
    ]);
    expect(chatTitles()).toEqual(expect.arrayContaining([`${id(6)} never joined the swarm`]));
  });

  it('ignores an untagged instance and a foreign group: nothing is called but EC2 for the tag', async () => {
    const w5 = await nodeNamed('w5');
    const untagged = ec2.instances.find((i) => i.id === id(5));
    if (untagged) untagged.tags = {};
    asg.mock.resetHistory();
    ec2.mock.resetHistory();
    expect(await send(spot(id(5)))).toMatchObject([{ kind: 'ignored', reason: 'not-cluster-instance' }]);
    expect(await send(terminateHook(id(5), 'someone-elses-group'))).toMatchObject([
      { kind: 'ignored', reason: 'foreign-group' },
    ]);
    expect(asg.mock.calls()).toHaveLength(0);
    expect(ec2.mock.calls()).toHaveLength(1);
    const after = await nodeNamed('w5');
    expect(after?.Spec).toEqual(w5?.Spec);
    if (untagged) untagged.tags = { ...TAG };
  });

  it('keeps a leaving manager a manager when demoting it would lose quorum, drained, with a critical message', async () => {
    await swarm.killNode('m3');
    await swarm.waitForNodeState('m3', 'down', 60_000);
    setState(MANAGERS, id(102), 'Terminating:Wait');
    const [first] = await send(terminateHook(id(102), MANAGERS));
    expect(first).toMatchObject({ kind: 'waiting', reason: 'quorum-at-risk', hostname: 'm2' });
    const m2 = await nodeNamed('m2');
    expect(m2?.Spec).toMatchObject({ Role: 'manager', Availability: 'drain' });
    expect((await reconcile()).find((o) => o.hostname === 'm2')).toMatchObject({ reason: 'quorum-at-risk' });
    expect(asg.completed.filter((c) => c.instance === id(102))).toEqual([]);
    const critical = (chat.messages as Array<{ title: string; severity: string; text: string }>).filter(
      (m) => m.severity === 'critical',
    );
    expect(critical.map((m) => m.title)).toEqual(['Leaving manager m2 cannot be demoted safely']);
    expect(critical[0]?.text).toMatch(/would leave 1 reachable of 2 managers/);
  });
});
