import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Finding, sweep } from '../../functions/health-sweep/health-sweep';
import { makeHandler as replaceNodeHandler } from '../../functions/replace-node/handler';
import { makeHandler as scaleNodesHandler } from '../../functions/scale-nodes/handler';
import { makeHandler as scaleServiceHandler } from '../../functions/scale-service/handler';
import { createInstanceGroups, createWorkerGroup } from '../../shared/adapters/autoscaling';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLogger } from '../../shared/adapters/logger';
import { createPauseSwitch } from '../../shared/adapters/pause-switch';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import type { Dispatcher } from '../../shared/domain/cloud';
import { PAUSE_LABEL, PAUSE_TTL_MS, readPause } from '../../shared/domain/pause';
import { requireRealHarness, type SwarmNode, startSwarm, type TestSwarm } from '../harness';
import { fakeAutoScaling } from '../support/fake-autoscaling';
import { fakeEc2 } from '../support/fake-ec2';
import { recordingNotifier } from '../support/fake-nodes';
import { webhookEvent } from '../support/http-event';
import { memoryLogger } from '../support/real-deps';

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'pause-it-token-0123456789';
const run = promisify(execFile);
const log = createLogger({ level: 'error', sink: () => {} });

interface NodeView {
  ID: string;
  Version: { Index: number };
  Spec: { Availability: string; Labels?: Record<string, string> } & Record<string, unknown>;
  Status: { State: string };
}

describeReal('the pause and the node opt-outs on a real swarm (on-prem: the swarm label)', () => {
  let swarm: TestSwarm;
  let docker: Docker;
  const workers: SwarmNode[] = [];
  // The functions' clock: moved forward to show the pause switch's TTL without waiting 30 s.
  let offset = 0;
  const now = () => Date.now() + offset;
  const dispatched: string[] = [];
  const dispatcher: Dispatcher = {
    replaceNode: async (id) => {
      dispatched.push(id);
      return { dispatched: true, to: 'replace-node' };
    },
    replaceInstance: async (id) => {
      dispatched.push(id);
      return { dispatched: true, to: 'replace-node' };
    },
    syncJoinTokens: async () => ({ dispatched: false, detail: 'not in this test' }),
  };
  let pause: ReturnType<typeof createPauseSwitch>;
  const settings = parseSettings({
    WEBHOOK_TOKENS: TOKEN,
    NODE_DOWN_GRACE_SECONDS: '0',
    MAX_DOWN_SHARE: '1',
    CLOUD: 'aws',
    CLUSTER_TAG: 'swarm-reflex:cluster=it',
    WORKER_ASG_NAME: 'workers',
  });
  const client = async () => docker;

  /** `npm run pause` / `npm run resume` themselves, with DOCKER_HOST at the swarm's manager. */
  const npmRun = (mode: 'pause' | 'resume', ...words: string[]) =>
    run('npx', ['tsx', 'scripts/pause.ts', mode, ...words], {
      env: {
        ...process.env,
        DOCKER_HOST: swarm.manager.dockerHost,
        SETTINGS_PREFIX: '',
        PAUSED_BY: 'it@harness',
        WEBHOOK_TOKENS: '',
      },
    });

  const nodeView = async (name: string) =>
    (await docker.getNode(swarm.node(name).nodeId).inspect()) as NodeView;
  async function updateNode(
    name: string,
    change: { availability?: string; labels?: Record<string, string> },
  ) {
    const info = await nodeView(name);
    await docker.getNode(info.ID).update({
      _query: { version: info.Version.Index },
      _body: {
        ...info.Spec,
        Availability: change.availability ?? info.Spec.Availability,
        Labels: { ...(info.Spec.Labels ?? {}), ...change.labels },
      },
    });
  }
  const replicas = async (service: string) =>
    ((await docker.getService(service).inspect()) as { Spec: { Mode: { Replicated: { Replicas: number } } } })
      .Spec.Mode.Replicated.Replicas;

  const scaleService = () =>
    scaleServiceHandler({
      settings,
      logger: memoryLogger().logger,
      tokens: async () => settings.webhookTokens,
      paused: () => pause.read(),
      swarm: createSwarmServices(client),
      clock: { now: () => new Date(now()) },
    })(webhookEvent(TOKEN, [{ alertname: 'Busy', service: 'demo', scale: 'up' }]));
  const replaceNode = (node: string) =>
    replaceNodeHandler({
      settings,
      logger: memoryLogger().logger,
      tokens: async () => settings.webhookTokens,
      paused: () => pause.read(),
      swarm: createSwarmNodes(client),
      cloud: undefined,
      notifier: recordingNotifier(),
      clock: { now: () => new Date(now()) },
    })({ node });
  const healthSweep = () =>
    sweep(
      {
        nodes: createSwarmNodes(client),
        services: createSwarmServices(client),
        tasks: createSwarmTasks(client),
        group: undefined,
        dispatcher,
        joinParameters: { notChecked: 'not in this test' },
        pause,
        notifier: recordingNotifier(),
        clock: { now: () => new Date(now()) },
        settings: { nodeDownGraceSeconds: 0, sweepIntervalSeconds: 60, underReplicatedSeconds: 300 },
      },
      { at: new Date(now()), dryRun: false, log },
    );
  const body = async (response: Promise<{ statusCode: number; body: string }>) => {
    const r = await response;
    expect(r.statusCode).toBe(200);
    return JSON.parse(r.body) as {
      outcomes: Array<Record<string, unknown>>;
      paused?: Record<string, unknown>;
    };
  };

  beforeAll(async () => {
    swarm = await startSwarm({ managers: 1, label: 'pause' });
    docker = swarm.docker();
    for (let i = 1; i <= 3; i++) {
      workers.push(
        await swarm.addNode('worker', { engineLabels: { 'aws.instance-id': `i-0000000000000000${i}` } }),
      );
    }
    for (const w of workers) await swarm.waitForNodeState(w.name, 'ready', 60_000);
    await swarm.createService({ name: 'demo', replicas: 1, labels: { 'com.df.scaleMax': '3' } });
    // One container's switch, as a Lambda container keeps it: reads the swarm label at most every PAUSE_TTL_MS.
    pause = createPauseSwitch({ swarm: createSwarmNodes(client), now });
  }, 180_000);
  afterAll(async () => {
    await swarm?.teardown();
  });

  it('npm run pause stops scale-service, replace-node and the sweep within the TTL; npm run resume restarts them', async () => {
    const w3 = workers[2]?.name ?? '';
    expect(await pause.read()).toBeUndefined(); // read (and kept) before anyone paused
    await swarm.killNode(w3);
    await swarm.waitForNodeState(w3, 'down', 60_000);

    const paused = await npmRun('pause', 'integration', 'test', 'maintenance');
    expect(paused.stdout).toContain(`paused by it@harness`);
    const label = ((await docker.swarmInspect()) as { Spec: { Labels: Record<string, string> } }).Spec.Labels;
    expect(readPause(label[PAUSE_LABEL], 'swarm')).toMatchObject({
      by: 'it@harness',
      reason: 'integration test maintenance',
    });

    // Within the TTL this container still acts on what it read; one TTL later it is paused.
    offset += PAUSE_TTL_MS;
    const scaled = await body(scaleService());
    expect(scaled.outcomes).toEqual([expect.objectContaining({ kind: 'skipped', reason: 'paused' })]);
    expect(String(scaled.outcomes[0]?.detail)).toContain('integration test maintenance');
    expect(scaled.paused).toMatchObject({ by: 'it@harness', source: 'swarm' });
    expect(await replicas('demo')).toBe(1);

    const replaced = await body(replaceNode(w3));
    expect(replaced.outcomes).toEqual([expect.objectContaining({ kind: 'skipped', reason: 'paused' })]);
    expect((await nodeView(w3)).Status.State).toBe('down'); // still in the swarm

    const swept = await healthSweep();
    expect(swept.outcomes[0]).toMatchObject({ kind: 'paused', action: 'paused', by: 'it@harness' });
    expect(swept.outcomes.find((f: Finding) => f.kind === 'node-down')).toMatchObject({ action: 'paused' });
    expect(dispatched).toEqual([]);

    const resumed = await npmRun('resume');
    expect(resumed.stdout).toContain('resumed by it@harness');
    const after = ((await docker.swarmInspect()) as { Spec: { Labels?: Record<string, string> } }).Spec
      .Labels;
    expect(after?.[PAUSE_LABEL]).toBeUndefined();
    offset += PAUSE_TTL_MS;

    expect((await body(scaleService())).outcomes[0]).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
    expect(await replicas('demo')).toBe(2);
    expect((await body(replaceNode(w3))).outcomes[0]).toMatchObject({ kind: 'replaced' });
    const left = (await docker.listNodes()) as NodeView[];
    expect(left.map((n) => n.ID)).not.toContain(swarm.node(w3).nodeId);
  }, 180_000);

  it('a node a person excluded or paused is never scaled in by scale-nodes (not even counted)', async () => {
    const [w1, w2] = [workers[0]?.name ?? '', workers[1]?.name ?? ''];
    await updateNode(w1, { labels: { 'com.swarm-reflex.exclude': 'true' } });
    await updateNode(w2, { availability: 'pause' });
    const asg = fakeAutoScaling(
      {
        name: 'workers',
        min: 0,
        max: 5,
        desired: 2,
        instances: ['i-00000000000000001', 'i-00000000000000002'],
      },
      () => new Date(now()),
    );
    try {
      const handler = scaleNodesHandler({
        settings,
        logger: memoryLogger().logger,
        tokens: async () => settings.webhookTokens,
        paused: () => pause.read(),
        swarm: createSwarmNodes(client),
        tasks: createSwarmTasks(client),
        group: createWorkerGroup(asg.client, 'workers'),
        notifier: recordingNotifier(),
        clock: { now: () => new Date(now()) },
      });
      const answer = await body(
        handler(webhookEvent(TOKEN, [{ alertname: 'Idle', type: 'node', scale: 'down' }])),
      );
      expect(answer.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'no-candidate' });
      expect(answer.outcomes[0]?.detail).toContain(`${w1} (excluded)`);
      expect(answer.outcomes[0]?.detail).toContain(`${w2} (maintenance)`);
      expect((await nodeView(w1)).Spec).toMatchObject({ Availability: 'active' });
      expect((await nodeView(w2)).Spec.Availability).toBe('pause');
      expect((await nodeView(w1)).Spec.Labels?.['com.swarm-reflex.scale-in']).toBeUndefined();
      expect(asg.terminated).toEqual([]);
      expect(asg.group.desired).toBe(2);
    } finally {
      asg.mock.restore();
    }
  }, 120_000);

  it('replace-node refuses a down node a person excluded or drained, and the sweep reports it without dispatching', async () => {
    const [w1, w2] = [workers[0]?.name ?? '', workers[1]?.name ?? ''];
    await updateNode(w2, { availability: 'drain' });
    await Promise.all([swarm.killNode(w1), swarm.killNode(w2)]);
    await Promise.all([
      swarm.waitForNodeState(w1, 'down', 60_000),
      swarm.waitForNodeState(w2, 'down', 60_000),
    ]);

    expect((await body(replaceNode(w1))).outcomes[0]).toMatchObject({ kind: 'refused', reason: 'excluded' });
    expect((await body(replaceNode(w2))).outcomes[0]).toMatchObject({
      kind: 'refused',
      reason: 'maintenance',
    });
    const ids = ((await docker.listNodes()) as NodeView[]).map((n) => n.ID);
    expect(ids).toEqual(expect.arrayContaining([swarm.node(w1).nodeId, swarm.node(w2).nodeId]));

    const swept = await healthSweep();
    const down = swept.outcomes.filter((f: Finding) => f.kind === 'node-down');
    expect(down.map((f) => `${f.subject} ${f.action}`).sort()).toEqual(
      [`${w1} excluded`, `${w2} maintenance`].sort(),
    );
    expect(dispatched).toEqual([]);
  }, 120_000);

  it('replace-node refuses a down node whose instance a person put in Auto Scaling Standby (EC2 and Auto Scaling at the SDK boundary), and replaces it once it is back in service', async () => {
    const w1 = workers[0]?.name ?? '';
    // The previous test left w1 down and excluded: the person opts it back in (exclude=false)
    // but keeps its instance in Standby.
    await updateNode(w1, { labels: { 'com.swarm-reflex.exclude': 'false' } });
    const cluster = { key: 'swarm-reflex:cluster', value: 'pause-it' };
    const ec2 = fakeEc2([
      {
        id: 'i-00000000000000001',
        state: 'running',
        privateIp: swarm.node(w1).address,
        tags: { [cluster.key]: cluster.value },
      },
    ]);
    const asg = fakeAutoScaling(
      {
        name: 'workers',
        min: 0,
        max: 5,
        desired: 2,
        instances: ['i-00000000000000001'],
        standby: ['i-00000000000000001'],
      },
      () => new Date(now()),
    );
    try {
      const replace = () =>
        replaceNodeHandler({
          settings: { ...settings, clusterTag: cluster },
          logger: memoryLogger().logger,
          tokens: async () => settings.webhookTokens,
          paused: () => pause.read(),
          swarm: createSwarmNodes(client),
          cloud: createCloudInstances(ec2.client, cluster),
          groups: createInstanceGroups(asg.client),
          notifier: recordingNotifier(),
          clock: { now: () => new Date(now()) },
        })({ node: w1 });
      expect((await body(replace())).outcomes[0]).toMatchObject({
        kind: 'refused',
        reason: 'maintenance',
        detail: expect.stringContaining('Standby'),
      });
      expect((await nodeView(w1)).Status.State).toBe('down'); // still in the swarm
      expect(ec2.terminated).toEqual([]);

      asg.group.standby = []; // aws autoscaling exit-standby
      expect((await body(replace())).outcomes[0]).toMatchObject({
        kind: 'replaced',
        instance: 'i-00000000000000001',
      });
      expect(ec2.terminated).toEqual(['i-00000000000000001']);
      const left = (await docker.listNodes()) as NodeView[];
      expect(left.map((n) => n.ID)).not.toContain(swarm.node(w1).nodeId);
    } finally {
      ec2.mock.restore();
      asg.mock.restore();
    }
  }, 120_000);
});
