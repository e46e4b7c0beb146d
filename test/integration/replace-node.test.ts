import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/replace-node/handler';
import { syncJoinTokens } from '../../functions/sync-join-tokens/sync-join-tokens';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createParameterStore } from '../../shared/adapters/ssm';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { REPLACING_NODE_TAG } from '../../shared/domain/labels';
import {
  type ChatReceiver,
  requireRealHarness,
  runBootstrap,
  type SwarmNode,
  startChatReceiver,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { asFunction } from '../support/aws-ledger';
import { type FakeInstance, fakeEc2 } from '../support/fake-ec2';
import { fakeSsm } from '../support/fake-ssm';
import { webhookEvent } from '../support/http-event';
import { memoryLogger, realNotifier } from '../support/real-deps';

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'replace-node-it-token-0123456789';
const PREFIX = '/swarm-reflex/it-replace';
const CLUSTER = { key: 'swarm-reflex:cluster', value: 'it' };

interface NodeView {
  ID: string;
  Spec: { Role: string };
  Description: { Hostname: string };
  Status: { State: string };
  ManagerStatus?: { Reachability?: string; Leader?: boolean };
}

describeReal('replace-node on a real multi-node swarm (EC2 and SSM mocked at the SDK boundary)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;
  let ec2: ReturnType<typeof fakeEc2>;
  let ssm: ReturnType<typeof fakeSsm>;
  const instances: FakeInstance[] = [];
  const launches: Array<Promise<SwarmNode>> = [];
  let serial = 0;

  const instanceId = () => `i-0000000000000${(0xa00 + serial++).toString(16)}`;
  const instanceOf = (name: string) => instances.find((i) => i.privateIp === swarm.node(name).address)?.id;

  /** What the Auto Scaling group does after a termination: launch an instance that runs the real bootstrap. */
  async function launchReplacement(role: 'worker' | 'manager'): Promise<SwarmNode> {
    const node = await swarm.addNode(role, { join: false });
    const id = instanceId();
    instances.push({
      id,
      state: 'running',
      privateIp: node.address,
      tags: { [CLUSTER.key]: CLUSTER.value, role },
    });
    const parameters = Object.fromEntries([...ssm.store].map(([name, p]) => [name, p.value]));
    const run = await runBootstrap(node, { role, settingsPrefix: PREFIX, parameters, instanceId: id });
    if (run.code !== 0) throw new Error(`bootstrap failed (${run.code}): ${run.stderr}`);
    await swarm.waitForNodeState(node.name, 'ready', 60_000);
    return node;
  }

  function handler(env: Record<string, string> = {}) {
    const settings = parseSettings({
      WEBHOOK_TOKENS: TOKEN,
      CLOUD: 'aws',
      CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`,
      NODE_DOWN_GRACE_SECONDS: '0',
      ...env,
    });
    const docker = swarm.docker();
    return makeHandler({
      settings,
      logger: memoryLogger().logger,
      tokens: async () => settings.webhookTokens,
      swarm: createSwarmNodes(async () => docker),
      cloud: createCloudInstances(ec2.client, CLUSTER),
      notifier: realNotifier('replace-node', { webhook: chat.url }),
      clock: { now: () => new Date() },
    });
  }

  const alert = (labels: Record<string, string>) =>
    webhookEvent(TOKEN, [{ alertname: 'NodeDown', type: 'node', ...labels }]);

  async function outcome(h: ReturnType<typeof handler>, labels: Record<string, string>) {
    const response = await h(alert(labels));
    return {
      status: response.statusCode,
      ...(JSON.parse(response.body).outcomes?.[0] ?? JSON.parse(response.body)),
    };
  }

  const listNodes = async () => (await swarm.docker().listNodes()) as NodeView[];

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 3, workers: 3, label: 'replace-node' }),
      startChatReceiver(),
    ]);
    for (const node of swarm.nodes) {
      const tags: Record<string, string> = { role: node.role };
      // w3's instance is not this cluster's: it must never be touched.
      if (node.name !== 'w3') tags[CLUSTER.key] = CLUSTER.value;
      instances.push({ id: instanceId(), state: 'running', privateIp: node.address, tags });
    }
    ec2 = fakeEc2(instances);
    ssm = fakeSsm();
    ec2.hooks.onTerminate = (id) => {
      const role = instances.find((i) => i.id === id)?.tags.role === 'manager' ? 'manager' : 'worker';
      launches.push(launchReplacement(role));
    };
    await swarm.createService({ name: 'web', replicas: 3 });
    await swarm.waitForRunningTasks('web', 3, 60_000);
    // What new nodes will read: sync-join-tokens writes it, for real, from the real swarm.
    const docker = swarm.docker();
    // The tokens' writer is sync-join-tokens: its SSM calls are its own, not replace-node's.
    const synced = await asFunction('sync-join-tokens', () =>
      syncJoinTokens(
        {
          swarm: createSwarmNodes(async () => docker),
          parameters: createParameterStore(ssm.client),
          notifier: realNotifier('sync-join-tokens', {}),
          clock: { now: () => new Date() },
          settings: { settingsPrefix: PREFIX, joinTokenMaxAgeDays: 0 },
        },
        { rotate: false, dryRun: false, log: memoryLogger().logger },
      ),
    );
    expect(synced.outcomes[0]).toMatchObject({ kind: 'synced' });
  });

  afterAll(async () => {
    await Promise.allSettled(launches);
    ec2?.mock.restore();
    ssm?.mock.restore();
    await chat?.close();
    await swarm?.teardown();
  });

  it('leaves a Ready node named in an alert untouched', async () => {
    const before = await listNodes();
    expect(await outcome(handler(), { node: 'w2' })).toMatchObject({
      status: 200,
      kind: 'refused',
      reason: 'node-not-down',
    });
    expect(await listNodes()).toHaveLength(before.length);
    expect(ec2.terminated).toEqual([]);
  });

  it('refuses an unknown node and ignores malformed labels, touching nothing', async () => {
    const h = handler();
    expect(await outcome(h, { node: 'ghost' })).toMatchObject({ kind: 'refused', reason: 'unknown-node' });
    expect(await outcome(h, { node: '../w1' })).toMatchObject({
      kind: 'ignored',
      reason: 'invalid-target-label',
    });
    expect(await outcome(h, { instance: 'w1;reboot' })).toMatchObject({
      kind: 'ignored',
      reason: 'invalid-target-label',
    });
    expect(ec2.terminated).toEqual([]);
  });

  it('replaces a dead worker exactly once under 10 concurrent deliveries, and the replacement joins', async () => {
    const w1 = swarm.node('w1');
    const w1Instance = instanceOf('w1');
    await swarm.killNode('w1');
    await swarm.waitForNodeState('w1', 'down', 60_000);

    const h = handler();
    // node-exporter's instance label: the node's address and port.
    const results = await Promise.all(
      Array.from({ length: 10 }, () => outcome(h, { instance: `${w1.address}:9100` })),
    );
    expect(results.filter((r) => r.kind === 'replaced')).toHaveLength(1);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(ec2.terminated).toEqual([w1Instance]);
    expect(instances.find((i) => i.id === w1Instance)?.tags[REPLACING_NODE_TAG]).toBe(w1.nodeId);

    const replacement = await launches.at(-1);
    const nodes = await listNodes();
    expect(nodes.find((n) => n.ID === w1.nodeId)).toBeUndefined();
    expect(nodes.find((n) => n.Description.Hostname === replacement?.name)?.Status.State).toBe('ready');
    await swarm.waitForRunningTasks('web', 3, 60_000);
    const titles = ((await chat.waitFor(2)) as Array<{ title: string }>).map((m) => m.title);
    expect(titles).toEqual(
      expect.arrayContaining([`Removed dead node w1 from the swarm`, `Terminated ${w1Instance}`]),
    );
  });

  it('refuses an instance without the cluster tag, a storm and the rate limit; finishes after EC2 errors', async () => {
    await Promise.all([swarm.killNode('w2'), swarm.killNode('w3')]);
    await Promise.all([
      swarm.waitForNodeState('w2', 'down', 60_000),
      swarm.waitForNodeState('w3', 'down', 60_000),
    ]);
    const before = (await listNodes()).length;

    expect(await outcome(handler(), { node: 'w3' })).toMatchObject({
      kind: 'refused',
      reason: 'not-cluster-instance',
    });
    expect(await outcome(handler({ MAX_DOWN_SHARE: '0.2' }), { node: 'w2' })).toMatchObject({
      kind: 'refused',
      reason: 'storm',
    });
    expect(await outcome(handler({ MAX_REPLACEMENTS_PER_HOUR: '1' }), { node: 'w2' })).toMatchObject({
      kind: 'refused',
      reason: 'rate-limited',
    });
    expect((await listNodes()).length).toBe(before);
    expect(ec2.terminated).toHaveLength(1);

    ec2.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' });
    expect(await outcome(handler(), { node: 'w2' })).toMatchObject({ status: 503, retry: true });
    ec2.hooks.fail = undefined;
    expect(await outcome(handler(), { node: 'w2' })).toMatchObject({ kind: 'replaced', hostname: 'w2' });
    expect(ec2.terminated).toHaveLength(2);
    await launches.at(-1);
  });

  it('replaces a dead manager: demoted, removed, terminated, quorum held throughout', async () => {
    const m3 = swarm.node('m3');
    await swarm.killNode('m3');
    await swarm.waitForNodeState('m3', 'down', 60_000);
    // w3 is still down (not ours to replace): allow two down nodes; w1 and w2 were replaced
    // in the last hour: allow a third replacement.
    const result = await outcome(handler({ MAX_DOWN_SHARE: '0.5', MAX_REPLACEMENTS_PER_HOUR: '3' }), {
      node: 'm3',
    });
    expect(result).toMatchObject({
      kind: 'replaced',
      role: 'manager',
      instance: expect.stringMatching(/^i-/),
    });
    expect(result.steps).toEqual(expect.arrayContaining(['demoted m3', 'removed m3']));
    const nodes = await listNodes();
    expect(nodes.find((n) => n.ID === m3.nodeId)).toBeUndefined();
    const managers = nodes.filter((n) => n.Spec.Role === 'manager');
    expect(managers.filter((n) => n.ManagerStatus?.Reachability === 'reachable').length).toBeGreaterThan(
      managers.length / 2,
    );
    // The swarm still takes writes: it has a leader and a quorum.
    await swarm.createService({ name: 'after-manager-loss', replicas: 1 });
    expect(launches).toHaveLength(3);
    const newManager = await launches.at(-1);
    const after = await listNodes();
    expect(after.find((n) => n.Description.Hostname === newManager?.name)?.Spec.Role).toBe('manager');
  });
});
