import { rmSync } from 'node:fs';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeHandler as makeReplaceNode } from '../../functions/replace-node/handler';
import { routes } from '../../scripts/local/routes';
import { type LocalServer, startLocalServer } from '../../scripts/local/server';
import { createDockerClient } from '../../shared/adapters/docker';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLogger } from '../../shared/adapters/logger';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { LAST_SCALE_LABEL, REPLACING_NODE_TAG } from '../../shared/domain/labels';
import {
  type ChatReceiver,
  type DockerProxy,
  requireRealHarness,
  startChatReceiver,
  startDockerProxy,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { type FakeInstance, fakeEc2 } from '../support/fake-ec2';
import { bearer, httpEvent } from '../support/http-event';
import { realNotifier } from '../support/real-deps';

/**
 * Storms: many alerts in one delivery, many deliveries at once, and the same node-down from
 * two ways in at once. The end state must be what one delivery would have made, and the
 * Docker calls per service are counted through a proxy in front of the manager's socket.
 *
 * `npm start`'s server loads the real handler modules, whose default dependencies read the
 * environment once, when first loaded: the Docker host they get is the proxy's socket, at a
 * path fixed before anything is imported.
 */
const env = await vi.hoisted(async () => {
  // Hoisted above the imports, so it imports what it uses itself.
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const saved = { DOCKER_HOST: process.env.DOCKER_HOST, WEBHOOK_TOKENS: process.env.WEBHOOK_TOKENS };
  const token = 'storms-it-token-0123456789';
  const dir = mkdtempSync(join(tmpdir(), 'srxproxy-'));
  const socket = join(dir, 'docker.sock');
  process.env.DOCKER_HOST = `unix://${socket}`;
  process.env.WEBHOOK_TOKENS = token;
  return { saved, token, dir, socket };
});

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = env.token;
const CLUSTER = { key: 'swarm-reflex:cluster', value: 'storms' };
const quiet = createLogger({ level: 'error', sink: () => {} });
const figures: string[] = [];

interface ServiceView {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels?: Record<string, string>; Mode: { Replicated?: { Replicas: number } } };
}

describeReal('storms against a real swarm: the end state is what one delivery makes', () => {
  let swarm: TestSwarm;
  let proxy: DockerProxy;
  let server: LocalServer;
  let chat: ChatReceiver;

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 1, workers: 2, label: 'storms' }),
      startChatReceiver(),
    ]);
    // Dead for the last storm; swarm takes about 15 s to notice, the other storms run meanwhile.
    await swarm.killNode('w1');
    proxy = await startDockerProxy(swarm.manager.socketPath, { socketPath: env.socket });
    server = await startLocalServer({ routes, port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await chat?.close();
    await swarm?.teardown();
    rmSync(env.dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(env.saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (figures.length > 0) process.stdout.write(`\nStorm figures:\n${figures.join('\n')}\n\n`);
  });

  /** Services whose tasks never start (no node has the label): the specs are what is measured. */
  async function createServices(prefix: string, count: number): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const name = `${prefix}${String(i).padStart(2, '0')}`;
      const created = (await swarm.docker().createService({
        Name: name,
        Labels: { 'com.df.scaleMax': '10', 'com.df.scaleCooldown': '600' },
        TaskTemplate: {
          ContainerSpec: { Image: 'local/busybox:1', Command: ['sleep', '3600'] },
          Placement: { Constraints: ['node.labels.storm-never==1'] },
        },
        Mode: { Replicated: { Replicas: 1 } },
      })) as { id: string };
      ids.set(name, created.id);
    }
    return ids;
  }

  async function services(prefix: string): Promise<ServiceView[]> {
    const all = (await swarm.docker().listServices()) as ServiceView[];
    return all.filter((s) => s.Spec.Name.startsWith(prefix));
  }

  function webhook(alerts: Array<{ service: string; fingerprint: string }>): string {
    return JSON.stringify({
      version: '4',
      groupKey: '{}:{alertname="Load"}',
      status: 'firing',
      receiver: 'scale-service',
      groupLabels: { alertname: 'Load' },
      commonLabels: { alertname: 'Load', scale: 'up' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      alerts: alerts.map((a) => ({
        status: 'firing',
        labels: { alertname: 'Load', service: a.service, scale: 'up', replica: a.fingerprint },
        annotations: { summary: `load on ${a.service}` },
        startsAt: '2026-11-24T10:00:00Z',
        fingerprint: a.fingerprint,
      })),
    });
  }

  async function post(body: string) {
    const response = await fetch(`${server.url}/alerts/scale-service`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: bearer(TOKEN) },
      body,
    });
    return {
      status: response.status,
      body: (await response.json()) as {
        outcomes?: Array<{ kind: string; service?: string; reason?: string }>;
      },
    };
  }

  /** Docker calls the proxy saw for one service, by name (inspect) and by ID (update). */
  function callsFor(name: string, id: string) {
    const requests = proxy.requests();
    // Answered reads: a read that failed in transit is retried, and counted once.
    const inspects = requests.filter(
      (r) => r.method === 'GET' && r.path === `/services/${name}` && r.status === 200,
    ).length;
    const updates = requests.filter((r) => r.method === 'POST' && r.path === `/services/${id}/update`);
    return {
      inspects,
      updates: updates.length,
      applied: updates.filter((r) => r.status === 200).length,
      conflicts: updates.filter((r) => r.status !== 200).length,
    };
  }

  it('one webhook with 1,000 alerts over 50 services: each scaled one step, with one inspect and one update each', async () => {
    const ids = await createServices('st-', 50);
    const names = [...ids.keys()];
    const alerts = Array.from({ length: 1_000 }, (_, i) => ({
      service: names[i % names.length] as string,
      fingerprint: i.toString(16).padStart(16, '0'),
    }));
    proxy.resetCounts();
    const started = Date.now();
    const response = await post(webhook(alerts));
    const ms = Date.now() - started;

    expect(response.status).toBe(200);
    expect(response.body.outcomes).toHaveLength(1_000);
    expect(response.body.outcomes?.every((o) => o.kind === 'scaled')).toBe(true);
    const after = await services('st-');
    expect(after).toHaveLength(50);
    for (const s of after) {
      expect(s.Spec.Mode.Replicated?.Replicas).toBe(2);
      expect(s.Spec.Labels?.[LAST_SCALE_LABEL]).toBe('1->2');
    }
    const perService = names.map((name) => callsFor(name, ids.get(name) as string));
    expect(perService).toEqual(names.map(() => ({ inspects: 1, updates: 1, applied: 1, conflicts: 0 })));
    // And nothing else: 100 Docker calls for 1,000 alerts, besides at most one read of the swarm
    // object by the pause switch (once per container per 30 s, whatever the number of alerts).
    const { 'GET /swarm': pauseReads = 0, ...calls } = proxy.counts();
    expect(calls).toEqual({ 'GET /services/:id': 50, 'POST /services/:id/update': 50 });
    expect(pauseReads).toBeLessThanOrEqual(1);
    figures.push(
      `1,000 alerts over 50 services, one webhook: 200 in ${ms} ms; Docker calls ${JSON.stringify(proxy.counts())}; per service: 1 inspect + 1 update (all 50 alike)`,
    );
  });

  it('100 concurrent webhooks for the same 10 services (through the local server): each service one step', async () => {
    const ids = await createServices('sc-', 10);
    const names = [...ids.keys()];
    proxy.resetCounts();
    const started = Date.now();
    // Each delivery names all ten services, in its own order, as HA Alertmanagers and retries would.
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, d) =>
        post(
          webhook(
            names.map((_, i) => ({
              service: names[(i + d) % names.length] as string,
              fingerprint: `${d.toString(16).padStart(8, '0')}${i.toString(16).padStart(8, '0')}`,
            })),
          ),
        ),
      ),
    );
    const ms = Date.now() - started;

    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
    const outcomes = responses.flatMap((r) => r.body.outcomes ?? []);
    expect(outcomes).toHaveLength(1_000);
    for (const name of names) {
      const mine = outcomes.filter((o) => o.service === name);
      expect(
        mine.filter((o) => o.kind === 'scaled'),
        name,
      ).toHaveLength(1);
      expect(
        mine.filter((o) => o.kind === 'skipped' && o.reason === 'cooldown'),
        name,
      ).toHaveLength(99);
    }
    for (const s of await services('sc-')) expect(s.Spec.Mode.Replicated?.Replicas).toBe(2);
    const perService = names.map((name) => ({ name, ...callsFor(name, ids.get(name) as string) }));
    for (const c of perService) {
      expect(c.applied).toBe(1);
      // Every delivery reads once, and once more after each update it lost.
      expect(c.inspects).toBe(100 + c.conflicts);
    }
    figures.push(
      `100 concurrent webhooks x 10 services: all 200 in ${ms} ms; per service (inspects / updates sent / applied / lost the version race): ${perService
        .map((c) => `${c.name} ${c.inspects}/${c.updates}/${c.applied}/${c.conflicts}`)
        .join(', ')}`,
    );
  });

  it('the same dead node from the alert route and the sweep at once, several times each: one removal, one termination', async () => {
    await swarm.waitForNodeState('w1', 'down', 60_000);
    const w1 = swarm.node('w1');
    const instances: FakeInstance[] = swarm.nodes.map((n, i) => ({
      id: `i-05707${String(i + 1).padStart(12, '0')}`,
      state: 'running',
      privateIp: n.address,
      tags: { [CLUSTER.key]: CLUSTER.value },
    }));
    const ec2 = fakeEc2(instances);
    try {
      const settings = parseSettings({
        WEBHOOK_TOKENS: TOKEN,
        DOCKER_HOST: proxy.dockerHost,
        CLOUD: 'aws',
        CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`,
        NODE_DOWN_GRACE_SECONDS: '0',
      });
      const docker = createDockerClient(settings.docker);
      proxy.resetCounts();
      const handler = makeReplaceNode({
        settings,
        logger: quiet,
        tokens: async () => settings.webhookTokens,
        swarm: createSwarmNodes(async () => docker),
        cloud: createCloudInstances(ec2.client, CLUSTER),
        notifier: realNotifier('replace-node', { webhook: chat.url }),
        clock: { now: () => new Date() },
      });
      const alert = httpEvent({
        authorization: bearer(TOKEN),
        body: JSON.stringify({
          version: '4',
          status: 'firing',
          alerts: [
            {
              status: 'firing',
              labels: { alertname: 'NodeDown', type: 'node', instance: `${w1.address}:9100` },
            },
          ],
        }),
      });
      const sweep = { node: w1.nodeId };
      const storm = () =>
        Promise.all(Array.from({ length: 12 }, (_, i) => handler(i % 2 === 0 ? alert : sweep)));
      const responses = [...(await storm()), ...(await storm())];

      expect(responses.map((r) => r.statusCode)).toEqual(Array(24).fill(200));
      const outcomes = responses.map(
        (r) => (JSON.parse(r.body) as { outcomes: Array<Record<string, unknown>> }).outcomes[0],
      );
      expect(outcomes.filter((o) => o?.kind === 'replaced')).toHaveLength(1);
      expect(outcomes.every((o) => o?.kind === 'replaced' || o?.kind === 'skipped')).toBe(true);
      const nodes = (await swarm.docker().listNodes()) as Array<{ ID: string }>;
      expect(nodes.map((n) => n.ID)).not.toContain(w1.nodeId);
      expect(nodes).toHaveLength(2);
      const removals = proxy.requests().filter((r) => r.key === 'DELETE /nodes/:id');
      expect(removals.filter((r) => r.status === 200)).toHaveLength(1);
      const w1Instance = instances.find((i) => i.privateIp === w1.address);
      expect(ec2.terminated).toEqual([w1Instance?.id]);
      expect(ec2.mock.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
      expect(w1Instance?.tags[REPLACING_NODE_TAG]).toBe(w1.nodeId);
      expect(instances.filter((i) => i.state !== 'running').map((i) => i.id)).toEqual([w1Instance?.id]);
      const titles = (chat.messages as Array<{ title?: string }>).map((m) => m.title);
      expect(titles.filter((t) => t === 'Removed dead node w1 from the swarm')).toHaveLength(1);
      expect(titles.filter((t) => t === `Terminated ${w1Instance?.id}`)).toHaveLength(1);
      const tally = new Map<string, number>();
      for (const o of outcomes) {
        const key = `${o?.kind}${o?.reason ? `: ${o.reason}` : ''}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
      figures.push(
        `node down, 2 waves of 6 alert deliveries + 6 sweep invocations at once: ${[...tally].map(([r, n]) => `${r} ${n}`).join(', ')}; node removals sent ${removals.length}, applied 1 (others: ${
          removals
            .filter((r) => r.status !== 200)
            .map((r) => r.status)
            .join(', ') || 'none'
        }); 1 TerminateInstances; Docker calls ${JSON.stringify(proxy.counts())}`,
      );
    } finally {
      ec2.mock.restore();
    }
  });
});
