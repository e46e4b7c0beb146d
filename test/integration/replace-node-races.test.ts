import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/replace-node/handler';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { DependencyUnavailableError } from '../../shared/domain/errors';
import { REPLACEMENT_CLAIM_PREFIX, REPLACING_NODE_TAG } from '../../shared/domain/labels';
import type { SwarmNodes } from '../../shared/domain/swarm';
import {
  type ChatReceiver,
  requireRealHarness,
  startChatReceiver,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { type FakeInstance, fakeEc2 } from '../support/fake-ec2';
import { memoryLogger, realNotifier } from '../support/real-deps';

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'replace-races-token-0123456789';
const CLUSTER = { key: 'swarm-reflex:cluster', value: 'races' };

interface NodeView {
  ID: string;
  Spec: { Role: string };
  Description: { Hostname: string };
  Status: { State: string };
  ManagerStatus?: { Reachability?: string };
}

/**
 * The races of issue "never the wrong action" on a real swarm: a node that comes back in the
 * middle of its replacement, a manager whose removal fails after our own demotion, and five
 * dead nodes replaced at once under a limit of one (on-prem: the ledger on the swarm object).
 */
/** The EC2 instance each worker runs on (its `aws.instance-id` engine label). */
const instanceOf = (worker: string) => `i-0000000000000e00${worker.slice(1)}`;

describeReal('replace-node races on a real swarm (3 managers, 5 workers)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 3, workers: 0, label: 'replace-races' }),
      startChatReceiver(),
    ]);
    // Workers as the bootstrap makes them: the engine label names their EC2 instance.
    for (let k = 1; k <= 5; k++) {
      await swarm.addNode('worker', {
        name: `w${k}`,
        engineLabels: { 'aws.instance-id': instanceOf(`w${k}`) },
      });
    }
  });
  afterAll(async () => {
    await chat?.close();
    await swarm?.teardown();
  });

  function handler(
    env: Record<string, string>,
    wrap: (nodes: SwarmNodes) => SwarmNodes = (n) => n,
    cloud?: ReturnType<typeof fakeEc2>,
  ) {
    const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN, MAX_DOWN_SHARE: '1', ...env });
    const docker = swarm.docker();
    return makeHandler({
      settings,
      logger: memoryLogger().logger,
      tokens: async () => settings.webhookTokens,
      swarm: wrap(createSwarmNodes(async () => docker)),
      cloud: cloud ? createCloudInstances(cloud.client, CLUSTER) : undefined,
      notifier: realNotifier('replace-node', { webhook: chat.url }),
      clock: { now: () => new Date() },
    });
  }
  const listNodes = async () => (await swarm.docker().listNodes()) as NodeView[];
  const outcomeOf = (response: { statusCode: number; body: string }) => {
    expect(response.statusCode).toBe(200);
    return JSON.parse(response.body).outcomes[0];
  };
  const claims = async () =>
    Object.keys(
      ((await swarm.docker().swarmInspect()) as { Spec: { Labels?: Record<string, string> } }).Spec.Labels ??
        {},
    ).filter((k) => k.startsWith(REPLACEMENT_CLAIM_PREFIX));

  it('does not remove or terminate a worker whose dockerd comes back between the decision and the removal', async () => {
    const w1 = swarm.node('w1');
    const instances: FakeInstance[] = [
      {
        id: 'i-0000000000000e001',
        state: 'running',
        privateIp: w1.address,
        tags: { [CLUSTER.key]: CLUSTER.value },
      },
    ];
    const ec2 = fakeEc2(instances);
    try {
      await swarm.killNode('w1');
      await swarm.waitForNodeState('w1', 'down');
      const h = handler(
        { CLOUD: 'aws', CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`, NODE_DOWN_GRACE_SECONDS: '0' },
        (nodes) => ({
          ...nodes,
          // Between the checks and the removal the machine comes back (a reboot, a network blip).
          removeNode: async (id, options) => {
            await swarm.restartNode('w1');
            await swarm.waitForNodeState('w1', 'ready');
            return nodes.removeNode(id, options);
          },
        }),
        ec2,
      );
      const outcome = outcomeOf(await h({ node: 'w1' }));
      expect(outcome).toMatchObject({ kind: 'refused', reason: 'node-came-back' });
      const listed = (await listNodes()).find((n) => n.ID === w1.nodeId);
      expect(listed?.Status.State).toBe('ready');
      expect(ec2.terminated).toEqual([]);
      expect(instances[0]?.tags[REPLACING_NODE_TAG]).toBeUndefined();
      expect(await claims()).toEqual([]);
    } finally {
      ec2.mock.restore();
    }
  });

  it('keeps the grace period when the removal of a manager it demoted fails once', async () => {
    const m3 = swarm.node('m3');
    await swarm.killNode('m3');
    await swarm.waitForNodeState('m3', 'down');
    // Past a grace period that our own demotion would restart (it moves the node's UpdatedAt).
    await new Promise((r) => setTimeout(r, 6_000));
    let failures = 1;
    const h = handler({ NODE_DOWN_GRACE_SECONDS: '5' }, (nodes) => ({
      ...nodes,
      removeNode: async (id, options) => {
        if (failures-- > 0) throw new DependencyUnavailableError('docker', 'removing: socket hang up');
        return nodes.removeNode(id, options);
      },
    }));
    const outcome = outcomeOf(await h({ node: 'm3' }));
    expect(outcome).toMatchObject({ kind: 'replaced', role: 'manager', node: m3.nodeId });
    const after = await listNodes();
    expect(after.find((n) => n.ID === m3.nodeId)).toBeUndefined();
    const managers = after.filter((n) => n.Spec.Role === 'manager');
    expect(managers.map((m) => m.ManagerStatus?.Reachability)).toEqual(['reachable', 'reachable']);
  });

  it('removes exactly one of five dead workers replaced at once with a limit of one an hour (on-prem)', async () => {
    const workers = ['w1', 'w2', 'w3', 'w4', 'w5'];
    await Promise.all(workers.map((w) => swarm.killNode(w)));
    await Promise.all(workers.map((w) => swarm.waitForNodeState(w, 'down')));
    // The manager replaced above used this hour's slot: start from an empty ledger.
    const info = (await swarm.docker().swarmInspect()) as {
      Version: { Index: number };
      Spec: Record<string, unknown>;
    };
    await swarm
      .docker()
      .swarmUpdate({ _query: { version: info.Version.Index }, _body: { ...info.Spec, Labels: {} } });
    const h = handler({ NODE_DOWN_GRACE_SECONDS: '0', MAX_REPLACEMENTS_PER_HOUR: '1' });
    const outcomes = await Promise.all(workers.map(async (w) => outcomeOf(await h({ node: w }))));
    const reasons = outcomes.map((o) => o.reason ?? o.kind);
    expect(reasons.sort(), JSON.stringify(outcomes)).toEqual([
      'rate-limited',
      'rate-limited',
      'rate-limited',
      'rate-limited',
      'replaced',
    ]);
    expect(reasons.filter((r) => r === 'replaced')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'rate-limited')).toHaveLength(4);
    const left = await listNodes();
    expect(left.filter((n) => workers.includes(n.Description.Hostname))).toHaveLength(4);
  });

  it('removes ghosts (instance terminated) past the grace without the hourly limit or the storm guard, and they do not make a storm of a real failure', async () => {
    // Left from the test above: w2..w5 down (one of them removed), the hour's slot used.
    const listed = (await listNodes()).map((n) => n.Description.Hostname);
    const dead = ['w2', 'w3', 'w4', 'w5'].filter((w) => listed.includes(w));
    expect(dead.length).toBeGreaterThanOrEqual(3);
    const [real, ...ghosts] = dead as [string, ...string[]];
    const instances: FakeInstance[] = [
      // Something of the cluster runs: EC2 answers for it.
      {
        id: 'i-0000000000000e0ff',
        state: 'running',
        privateIp: swarm.node('m1').address,
        tags: { [CLUSTER.key]: CLUSTER.value },
      },
      {
        id: instanceOf(real),
        state: 'running',
        privateIp: swarm.node(real).address,
        tags: { [CLUSTER.key]: CLUSTER.value },
      },
      // Terminated instances have no private address any more: the nodes' engine labels name them.
      ...ghosts.map((g) => ({
        id: instanceOf(g),
        state: 'terminated',
        privateIp: '',
        tags: { [CLUSTER.key]: CLUSTER.value },
      })),
    ];
    const ec2 = fakeEc2(instances);
    try {
      const env = {
        CLOUD: 'aws',
        CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`,
        NODE_DOWN_GRACE_SECONDS: '0',
        MAX_DOWN_SHARE: '0.34',
      };
      // By address (node-exporter's label). The real failure first: with
      // the ghosts counted, 3 of 5 nodes down would be a storm (limit floor(5 × 0.34) = 1).
      const generous = handler({ ...env, MAX_REPLACEMENTS_PER_HOUR: '5' }, (n) => n, ec2);
      const first = outcomeOf(await generous({ instance: `${swarm.node(real).address}:9100` }));
      expect(first).toMatchObject({ kind: 'replaced', instance: instanceOf(real) });
      expect(ec2.terminated).toEqual([instanceOf(real)]);
      // The ghosts: removed although the hour's limit (1) is used up, nothing terminated.
      const strict = handler({ ...env, MAX_REPLACEMENTS_PER_HOUR: '1' }, (n) => n, ec2);
      for (const g of ghosts) {
        expect(outcomeOf(await strict({ node: g }))).toMatchObject({ kind: 'removed-ghost', hostname: g });
      }
      expect(ec2.terminated).toEqual([instanceOf(real)]);
      const left = (await listNodes()).map((n) => n.Description.Hostname);
      for (const g of [real, ...ghosts]) expect(left).not.toContain(g);
    } finally {
      ec2.mock.restore();
    }
  });
});
