import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/scale-nodes/handler';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { createSwarmNodes, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { ACTIVE_TASK_STATES } from '../../shared/domain/swarm';
import {
  type ChatReceiver,
  requireRealHarness,
  type SwarmNode,
  startChatReceiver,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { fakeAutoScaling } from '../support/fake-autoscaling';
import { webhookEvent } from '../support/http-event';
import { memoryLogger, realNotifier } from '../support/real-deps';

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'scale-nodes-it-token-0123456789';

describeReal('scale-nodes on a real swarm (Auto Scaling mocked at the SDK boundary)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;
  let asg: ReturnType<typeof fakeAutoScaling>;
  const workers: SwarmNode[] = [];
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const tasksOnTerminatedNodes: number[] = [];

  const activeTasksOn = async (nodeId: string) => {
    const tasks = (await swarm.docker().listTasks({ filters: { node: [nodeId] } })) as Array<{
      Status: { State: string };
    }>;
    return tasks.filter((t) => ACTIVE_TASK_STATES.has(t.Status.State)).length;
  };

  function handler() {
    const settings = parseSettings({
      WEBHOOK_TOKENS: TOKEN,
      CLOUD: 'aws',
      CLUSTER_TAG: 'swarm-reflex:cluster=it',
      WORKER_ASG_NAME: 'workers',
      // The test moves its clock 301 s per call: a drain must not time out under it.
      SCALE_IN_DRAIN_TIMEOUT_SECONDS: '86400',
    });
    const docker = swarm.docker();
    return makeHandler({
      settings,
      logger: memoryLogger().logger,
      tokens: async () => settings.webhookTokens,
      swarm: createSwarmNodes(async () => docker),
      tasks: createSwarmTasks(async () => docker),
      group: createWorkerGroup(asg.client, 'workers'),
      notifier: realNotifier('scale-nodes', { webhook: chat.url }),
      clock: { now },
    });
  }

  const post = async (scale: string) => {
    const response = await handler()(webhookEvent(TOKEN, [{ alertname: 'Capacity', type: 'node', scale }]));
    expect(response.statusCode).toBe(200);
    return JSON.parse(response.body) as {
      outcomes: Array<Record<string, unknown>>;
      scaleIns: Array<Record<string, unknown>>;
    };
  };

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 1, label: 'scale-nodes' }),
      startChatReceiver(),
    ]);
    for (let i = 1; i <= 3; i++) {
      workers.push(
        await swarm.addNode('worker', { engineLabels: { 'aws.instance-id': `i-0000000000000000${i}` } }),
      );
    }
    for (const w of workers) await swarm.waitForNodeState(w.name, 'ready', 60_000);
    asg = fakeAutoScaling(
      {
        name: 'workers',
        min: 1,
        max: 5,
        desired: 3,
        instances: workers.map((_, i) => `i-0000000000000000${i + 1}`),
      },
      now,
    );
    asg.hooks.onTerminate = async (id) => {
      const node = workers[Number(id.slice(-1)) - 1];
      if (node)
        tasksOnTerminatedNodes.push(
          await activeTasksOn((await swarm.docker().getNode(node.name).inspect()).ID),
        );
    };
    // Four tasks on three workers: one worker holds two.
    await swarm.docker().createService({
      Name: 'load',
      TaskTemplate: {
        ContainerSpec: {
          Image: 'local/busybox:1',
          Command: ['sleep', '3600'],
          StopGracePeriod: 1_000_000_000,
        },
        Placement: { Constraints: ['node.role==worker'] },
      },
      Mode: { Replicated: { Replicas: 4 } },
    });
    await swarm.waitForRunningTasks('load', 4, 60_000);
  });

  afterAll(async () => {
    asg?.mock.restore();
    await chat?.close();
    await swarm?.teardown();
  });

  it('scales out within the group bounds, then honours the cooldown read from the group', async () => {
    expect((await post('up')).outcomes[0]).toMatchObject({ kind: 'scaled', from: 3, to: 4 });
    expect((await post('up')).outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'cooldown' });
    offset += 301_000;
    expect((await post('+3')).outcomes[0]).toMatchObject({ kind: 'scaled', from: 4, to: 5 });
    offset += 301_000;
    expect((await post('up')).outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'at-max' });
    asg.group.desired = 3; // the launches never came: back to the three real workers
    asg.group.lastActivity = undefined;
  });

  it('drains the least-loaded worker on 5 concurrent deliveries, and terminates it once, only when empty', async () => {
    const nodes = createSwarmNodes(async () => swarm.docker());
    const tasks = createSwarmTasks(async () => swarm.docker());
    const counts = new Map<string, number>();
    for (const t of await tasks.listTasks())
      if (t.state === 'running') counts.set(t.nodeId, (counts.get(t.nodeId) ?? 0) + 1);
    const before = (await nodes.listNodes()).filter((n) => n.role === 'worker');
    const fewest = Math.min(...before.map((n) => counts.get(n.id) ?? 0));

    const results = await Promise.all(Array.from({ length: 5 }, () => post('down')));
    const draining = results.map((r) => r.outcomes[0]).filter((o) => o?.kind === 'draining');
    expect(draining).toHaveLength(1);
    const [drained] = draining[0]?.nodes as string[];
    const leastLoaded = before.find((n) => n.hostname === drained);
    expect(counts.get(leastLoaded?.id ?? '') ?? 0).toBe(fewest);
    expect(Math.max(...before.map((n) => counts.get(n.id) ?? 0))).toBeGreaterThan(fewest);
    // The others lost the race for the node-scale claim on the swarm: they read it (cooldown), or
    // the drained worker too, if the winner had drained it by then (scale-in-pending).
    const others = results.map((r) => r.outcomes[0]?.reason).filter(Boolean);
    expect(others).toHaveLength(4);
    for (const reason of others) expect(['scale-in-pending', 'cooldown']).toContain(reason);

    // Its task moves to the other workers; then a later call (or the sweep) completes the scale-in.
    const deadline = Date.now() + 60_000;
    while (asg.terminated.length === 0 && Date.now() < deadline) {
      offset += 301_000;
      await post('down');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(asg.terminated).toEqual([leastLoaded?.engineLabels['aws.instance-id']]);
    expect(tasksOnTerminatedNodes).toEqual([0]);
    expect(asg.group.desired).toBe(2);
    expect((await nodes.listNodes()).find((n) => n.id === leastLoaded?.id)).toBeUndefined();
    await swarm.waitForRunningTasks('load', 4, 60_000);
    const titles = (chat.messages as Array<{ title: string }>).map((m) => m.title);
    expect(titles).toEqual(expect.arrayContaining([`Scaled in: ${leastLoaded?.hostname} left the swarm`]));
  });
});
