import { TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/scale-nodes/handler';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { createSwarmNodes, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { SCALE_IN_CLAIM_LABEL, SCALE_IN_LABEL } from '../../shared/domain/labels';
import { ACTIVE_TASK_STATES } from '../../shared/domain/swarm';
import {
  BUSYBOX_IMAGE,
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
const TOKEN = 'scale-in-drain-it-token-0123456789';
const SECOND = 1_000_000_000;

interface TaskInfo {
  ID: string;
  NodeID?: string;
  DesiredState?: string;
  Status?: { State?: string; ContainerStatus?: { ContainerID?: string } };
}

/**
 * A scale-in that cannot finish, on a real swarm (Auto Scaling mocked at the SDK boundary):
 * a drained worker that keeps a task, and a termination that Auto Scaling refuses for good.
 */
describeReal('scale-nodes abandons a scale-in that cannot finish (real swarm)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;
  let asg: ReturnType<typeof fakeAutoScaling>;
  let w1: SwarmNode;
  let w2: SwarmNode;

  function handler() {
    const settings = parseSettings({
      WEBHOOK_TOKENS: TOKEN,
      CLOUD: 'aws',
      CLUSTER_TAG: 'swarm-reflex:cluster=it',
      WORKER_ASG_NAME: 'workers',
      SCALE_IN_DRAIN_TIMEOUT_SECONDS: '2',
      NODE_SCALE_COOLDOWN_SECONDS: '1',
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
      clock: { now: () => new Date() },
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

  const inspectNode = async (node: SwarmNode) =>
    (await swarm.docker().getNode(node.nodeId).inspect()) as {
      Spec: { Availability: string; Labels?: Record<string, string> };
    };

  /** Tasks Swarm lists on a node that still occupy it (what a scale-in waits for). */
  const activeTasksOn = async (node: SwarmNode) =>
    ((await swarm.docker().listTasks({ filters: { node: [node.nodeId] } })) as TaskInfo[]).filter((t) =>
      ACTIVE_TASK_STATES.has(t.Status?.State ?? ''),
    );

  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const createPinned = (name: string, node: SwarmNode, stopGraceSeconds: number) =>
    swarm.docker().createService({
      Name: name,
      TaskTemplate: {
        // busybox sleep as pid 1 ignores SIGTERM: the task stops only when the grace period ends.
        ContainerSpec: {
          Image: BUSYBOX_IMAGE,
          Command: ['sleep', '3600'],
          StopGracePeriod: stopGraceSeconds * SECOND,
        },
        Placement: { Constraints: [`node.hostname==${node.name}`] },
        RestartPolicy: { Condition: 'none' },
      },
      Mode: { Replicated: { Replicas: 1 } },
    });

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 1, label: 'scale-in-drain' }),
      startChatReceiver(),
    ]);
    w1 = await swarm.addNode('worker', { engineLabels: { 'aws.instance-id': 'i-00000000000000001' } });
    w2 = await swarm.addNode('worker', { engineLabels: { 'aws.instance-id': 'i-00000000000000002' } });
    for (const w of [w1, w2]) await swarm.waitForNodeState(w.name, 'ready', 60_000);
    asg = fakeAutoScaling(
      {
        name: 'workers',
        min: 1,
        max: 5,
        desired: 2,
        instances: ['i-00000000000000001', 'i-00000000000000002'],
      },
      () => new Date(),
    );
    // w2 holds two tasks, so that a scale-in picks w1 (the fewest tasks).
    await swarm.docker().createService({
      Name: 'busy',
      TaskTemplate: {
        ContainerSpec: { Image: BUSYBOX_IMAGE, Command: ['sleep', '3600'], StopGracePeriod: SECOND },
        Placement: { Constraints: [`node.hostname==${w2.name}`] },
      },
      Mode: { Replicated: { Replicas: 2 } },
    });
    await swarm.waitForRunningTasks('busy', 2, 60_000);
  }, 240_000);

  afterAll(async () => {
    asg?.mock.restore();
    await chat?.close();
    await swarm?.teardown();
  });

  it('hands a worker whose task never leaves back after SCALE_IN_DRAIN_TIMEOUT_SECONDS, then a scale=up scales', async () => {
    // A task that outlives any drain: it ignores SIGTERM and Swarm waits an hour before SIGKILL.
    await createPinned('stuck', w1, 3_600);
    await swarm.waitForRunningTasks('stuck', 1, 60_000);

    const drained = await post('down');
    expect(drained.outcomes[0]).toMatchObject({ kind: 'draining', nodes: [w1.name] });
    expect((await inspectNode(w1)).Spec.Availability).toBe('drain');
    // Swarm told the task to stop; it is still running on the drained worker.
    await until('the stuck task to be told to stop', async () =>
      (await activeTasksOn(w1)).some((t) => t.DesiredState === 'shutdown'),
    );
    await new Promise((r) => setTimeout(r, 2_500)); // past the 2 s timeout and the 1 s cooldown
    expect((await activeTasksOn(w1)).map((t) => t.Status?.State)).toEqual(['running']);

    const result = await post('up');
    expect(result.scaleIns).toEqual([
      expect.objectContaining({ kind: 'handed-back', hostname: w1.name, reason: 'drain-timeout' }),
    ]);
    const node = await inspectNode(w1);
    expect(node.Spec.Availability).toBe('active');
    expect(node.Spec.Labels?.[SCALE_IN_LABEL]).toBeUndefined();
    // The drain is gone, so the scale-up is a real one, not a cancel.
    expect(result.outcomes[0]).toEqual(expect.objectContaining({ kind: 'scaled', from: 2, to: 3 }));
    expect(result.outcomes[0]).not.toHaveProperty('reason');
    expect(asg.group.desired).toBe(3);
    expect(asg.terminated).toEqual([]);
    const titles = (chat.messages as Array<{ title: string }>).map((m) => m.title);
    expect(titles).toEqual(
      expect.arrayContaining([expect.stringMatching(`Scale-in of ${w1.name} abandoned`)]),
    );

    // Clean up: the stuck container is killed on its own daemon, and its service removed.
    const [stuck] = await activeTasksOn(w1);
    const container = stuck?.Status?.ContainerStatus?.ContainerID;
    if (container) await swarm.docker(w1).getContainer(container).kill();
    await swarm.docker().getService('stuck').remove();
    await until('w1 to run no task', async () => (await activeTasksOn(w1)).length === 0);
  }, 120_000);

  it('hands the worker back when Auto Scaling refuses the termination (desired lowered to the minimum), and a later scale-up scales', async () => {
    asg.group.desired = 3;
    asg.group.min = 1;
    asg.group.lastActivity = undefined;
    await new Promise((r) => setTimeout(r, 1_100)); // past the 1 s cooldown of the last claim
    // A task that takes 3 s to stop: the drain takes that long.
    await createPinned('slow', w1, 3);
    await swarm.waitForRunningTasks('slow', 1, 60_000);

    const drained = await post('down');
    expect(drained.outcomes[0]).toMatchObject({ kind: 'draining', from: 3, to: 2, nodes: [w1.name] });
    // While w1 drains, someone lowers the group's desired capacity to its minimum.
    asg.group.min = 2;
    asg.group.desired = 2;
    await until('w1 to run no task', async () => (await activeTasksOn(w1)).length === 0);
    await new Promise((r) => setTimeout(r, 1_100));

    const result = await post('up');
    expect(result.scaleIns).toEqual([
      expect.objectContaining({
        kind: 'handed-back',
        hostname: w1.name,
        reason: 'terminate-refused',
        detail: expect.stringContaining('Currently, desiredSize equals minSize (2)'),
      }),
    ]);
    const node = await inspectNode(w1);
    expect(node.Spec.Availability).toBe('active');
    expect(node.Spec.Labels?.[SCALE_IN_LABEL]).toBeUndefined();
    expect(node.Spec.Labels?.[SCALE_IN_CLAIM_LABEL]).toBeUndefined();
    expect(result.outcomes[0]).toEqual(expect.objectContaining({ kind: 'scaled', from: 2, to: 3 }));
    expect(asg.group.desired).toBe(3);
    expect(asg.terminated).toEqual([]);
    expect(asg.mock.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(1);
    const warnings = (chat.messages as Array<{ title: string; severity?: string }>).filter((m) =>
      m.title.includes('Auto Scaling refused to terminate i-00000000000000001'),
    );
    expect(warnings).toHaveLength(1);
    // w1 is in the swarm and takes tasks again.
    await createPinned('after', w1, 1);
    await swarm.waitForRunningTasks('after', 1, 60_000);
  }, 120_000);
});
