/**
 * The whole loop, every piece real: an exporter serves the metric families the shipped
 * rules read → a real Prometheus evaluates deploy/prometheus-rules.yml (only each `for:`
 * shortened, minutes to as many seconds) → two real Alertmanagers with the shipped
 * deploy/alertmanager.yml (only the URL and the credentials file rewritten) → the local
 * functions, served as `npm start` serves them → a real two-node swarm.
 *
 * The Alertmanagers do not gossip (clustering off): the worst case of an HA pair, each
 * delivers every notification, so every decision below is taken twice.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { sleep } from '../../local/proc';
import { poll } from '../../local/swarm/poll';
import { type LocalRoute, routes } from '../../scripts/local/routes';
import { type LocalServer, startLocalServer } from '../../scripts/local/server';
import {
  type ChatReceiver,
  cadvisorMemory,
  durationMs,
  nodeMemory,
  requireRealHarness,
  serviceState,
  shortenAlertDelays,
  startAlertmanager,
  startChatReceiver,
  startExporter,
  startPrometheus,
  startSwarm,
  type TestAlertmanager,
  type TestExporter,
  type TestPrometheus,
  type TestSwarm,
  withoutAlertDelays,
} from '../harness';

const describeReal = requireRealHarness(describe, ['swarm', 'alertmanager', 'prometheus']);
const TOKEN = 'closed-loop-token-0123456789';
const GRACE_SECONDS = 10;
/** Every `for:` of the shipped rules divided by this: 2m → 2 s, 5m → 5 s, 30m → 30 s. */
const SHORTEN_BY = 60;
const LIMIT_BYTES = 512 * 1024 * 1024;
const GiB = 1024 * 1024 * 1024;

const shippedRules = readFileSync(new URL('../../deploy/prometheus-rules.yml', import.meta.url), 'utf8');
const shippedRoutes = readFileSync(new URL('../../deploy/alertmanager.yml', import.meta.url), 'utf8');

/** A function's answer, as Alertmanager got it. */
interface Call {
  fn: string;
  status: number;
  outcomes: Outcome[];
  at: number;
}
const outcome = z.looseObject({
  kind: z.string(),
  reason: z.string().optional(),
  service: z.string().optional(),
  target: z.string().optional(),
});
type Outcome = z.infer<typeof outcome>;
const answer = z.looseObject({ outcomes: z.array(outcome).default([]) });

/** The routes `npm start` serves, each answer recorded. */
function recording(calls: Call[]): LocalRoute[] {
  return routes.map((route) => ({
    ...route,
    load: async () => {
      const { handler } = await route.load();
      return {
        handler: async (event: unknown) => {
          const response = await handler(event);
          const body = answer.safeParse(JSON.parse(response.body ?? '{}'));
          calls.push({
            fn: route.function,
            status: response.statusCode,
            outcomes: body.data?.outcomes ?? [],
            at: Date.now(),
          });
          return response;
        },
      };
    },
  }));
}

/** The shipped route's `group_interval` for a receiver: when Alertmanager looks at a group again. */
function groupInterval(receiver: string): number {
  const config = z
    .object({
      route: z.object({
        routes: z.array(z.looseObject({ receiver: z.string(), group_interval: z.string() })),
      }),
    })
    .parse(parse(shippedRoutes));
  const route = config.route.routes.find((r) => r.receiver === receiver);
  if (!route) throw new Error(`deploy/alertmanager.yml has no route to ${receiver}`);
  return durationMs(route.group_interval);
}

describeReal(
  'the closed loop: exporter → Prometheus (shipped rules) → Alertmanager (shipped routes) → functions → swarm',
  () => {
    let dir: string;
    let swarm: TestSwarm;
    let exporter: TestExporter;
    let chat: ChatReceiver;
    let server: LocalServer;
    let prometheus: TestPrometheus;
    const alertmanagers: TestAlertmanager[] = [];
    const calls: Call[] = [];
    /** Memory used, as a share of the limit, per service: what the exporter reports. */
    const memory: Record<string, number> = { 'cl-web': 0.5, 'cl-batch': 0.5 };
    const rules = shortenAlertDelays(shippedRules, SHORTEN_BY);

    const replicas = async (name: string) => (await serviceState(swarm.docker(), name)).replicas;
    const callsTo = (fn: string, from = 0) => calls.slice(from).filter((c) => c.fn === fn);
    const outcomesFor = (service: string, from: number) =>
      callsTo('scale-service', from).flatMap((c) => c.outcomes.filter((o) => o.service === service));
    const firing = async (alertname: string) =>
      (await prometheus.alerts()).filter((a) => a.labels.alertname === alertname && a.state === 'firing');
    const nodeTarget = (name: string) => `/node-exporter/${name}`;

    /** What a real Alertmanager still holds as active (resolved alerts are not listed). */
    async function activeInAlertmanager(am: TestAlertmanager, alertname: string): Promise<number> {
      const response = await fetch(`${am.url}/api/v2/alerts?filter=alertname%3D%22${alertname}%22`, {
        signal: AbortSignal.timeout(5_000),
      });
      return z.array(z.unknown()).parse(await response.json()).length;
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'swarm-reflex-closed-loop-'));
      // One at a time, so that afterAll knows everything that started, whatever fails next.
      exporter = await startExporter();
      chat = await startChatReceiver();
      swarm = await startSwarm({ managers: 1, workers: 1, label: 'closed-loop' });
      await swarm.createService({
        name: 'cl-web',
        replicas: 1,
        labels: { 'com.df.scaleMax': '3', 'com.df.scaleCooldown': '600' },
      });
      await swarm.createService({ name: 'cl-batch', replicas: 1 }); // never opted in

      exporter.serve('/cadvisor', () =>
        cadvisorMemory(
          Object.entries(memory).map(([service, share]) => ({
            service,
            task: `${service}.1.x0`,
            usageBytes: Math.round(share * LIMIT_BYTES),
            limitBytes: LIMIT_BYTES,
          })),
        ),
      );
      // Half of each node's memory in use: between ClusterMemoryLow's 30 % and ClusterMemoryHigh's 80 %.
      for (const node of swarm.nodes)
        exporter.serve(nodeTarget(node.name), () => nodeMemory(8 * GiB, 4 * GiB));

      vi.stubEnv('DOCKER_HOST', swarm.manager.dockerHost);
      vi.stubEnv('WEBHOOK_TOKENS', TOKEN);
      vi.stubEnv('CLOUD', 'none');
      vi.stubEnv('NODE_DOWN_GRACE_SECONDS', String(GRACE_SECONDS));
      vi.stubEnv('NOTIFY_WEBHOOK_URL', chat.url);
      server = await startLocalServer({ routes: recording(calls), port: 0 });

      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, TOKEN);
      const configYaml = shippedRoutes
        .replaceAll('https://swarm-reflex.example.com', server.url)
        .replaceAll('/etc/alertmanager/swarm-reflex-token', tokenFile);
      for (let i = 0; i < 2; i++) alertmanagers.push(await startAlertmanager({ configYaml }));

      prometheus = await startPrometheus({
        rules: rules.yaml,
        alertmanagers: alertmanagers.map((am) => `127.0.0.1:${am.port}`),
        scrapeConfigs: [
          {
            job_name: 'cadvisor',
            metrics_path: '/cadvisor',
            static_configs: [{ targets: [exporter.address] }],
          },
          {
            // node-exporter on every node, at <node address>:9100 as a real deployment scrapes it.
            // Here one local exporter serves them all, so the target names the node it stands for.
            job_name: 'node-exporter',
            static_configs: swarm.nodes.map((node) => ({
              targets: [exporter.address],
              labels: { instance: `${node.address}:9100`, __metrics_path__: nodeTarget(node.name) },
            })),
          },
        ],
      });
      // Prometheus hands new targets to the scrapers every 5 s.
      await poll('every target scraped', 30_000, async () => {
        const targets = await prometheus.targets();
        return targets.length === 1 + swarm.nodes.length && targets.every((t) => t.health === 'up');
      });
    });

    afterEach((context) => {
      if (context.task.result?.state !== 'fail') return;
      console.log('calls:', JSON.stringify(calls, null, 1));
      for (const am of alertmanagers) console.log(`alertmanager ${am.port}:\n${am.logs().slice(-6_000)}`);
      if (prometheus) console.log(`prometheus:\n${prometheus.logs().slice(-4_000)}`);
    });

    afterAll(async () => {
      const stopped = await Promise.allSettled([
        prometheus?.stop(),
        ...alertmanagers.map((am) => am.stop()),
        server?.close(),
        exporter?.close(),
        chat?.close(),
      ]);
      await swarm?.teardown();
      if (dir) rmSync(dir, { recursive: true, force: true });
      vi.unstubAllEnvs();
      for (const result of stopped) if (result.status === 'rejected') throw result.reason;
    });

    it('loads every shipped rule with only its `for:` shortened, and evaluates each without error', async () => {
      expect(withoutAlertDelays(rules.yaml)).toEqual(withoutAlertDelays(shippedRules));
      let loaded: Awaited<ReturnType<TestPrometheus['rules']>> = [];
      await poll('every rule evaluated once', 15_000, async () => {
        loaded = await prometheus.rules();
        return loaded.length > 0 && loaded.every((r) => r.health !== 'unknown');
      });
      // Prometheus lists the groups by name, the file lists them as written.
      const health = loaded.map((r) => `${r.name}: ${r.health}${r.lastError ? ` (${r.lastError})` : ''}`);
      expect(health.sort()).toEqual(rules.shortened.map((s) => `${s.alert}: ok`).sort());
      for (const { alert, from } of rules.shortened) {
        expect(loaded.find((r) => r.name === alert)?.duration).toBe(durationMs(from) / SHORTEN_BY / 1_000);
      }
      expect(await prometheus.alerts()).toEqual([]);
    });

    it('scales an opted-in service whose memory is over 80 % of its limit up one step, once', async () => {
      memory['cl-web'] = 0.9;
      memory['cl-batch'] = 0.9;
      await poll('cl-web to have 2 replicas', 60_000, async () => (await replicas('cl-web')) === 2);
      // Each Alertmanager delivers each service's group: one step, and the duplicate meets the cooldown.
      await poll(
        'both deliveries for each service',
        30_000,
        async () => callsTo('scale-service').length >= 4,
      );
      const web = outcomesFor('cl-web', 0).map(({ kind, reason, from, to }) => ({ kind, reason, from, to }));
      expect(web).toEqual(
        expect.arrayContaining([
          { kind: 'scaled', reason: undefined, from: 1, to: 2 },
          expect.objectContaining({ kind: 'skipped', reason: 'cooldown' }),
        ]),
      );
      expect(web).toHaveLength(2);
      expect(outcomesFor('cl-batch', 0).map((o) => `${o.kind}: ${o.reason}`)).toEqual([
        'skipped: not-managed',
        'skipped: not-managed',
      ]);
      expect((await serviceState(swarm.docker(), 'cl-web')).labels['com.swarm-reflex.last-scale']).toBe(
        '1->2',
      );

      // The alert keeps firing inside the cooldown: no second step.
      await sleep(15_000);
      expect((await firing('ServiceMemoryHigh')).map((a) => a.labels.service).sort()).toEqual([
        'cl-batch',
        'cl-web',
      ]);
      expect(await replicas('cl-web')).toBe(2);
      expect(await replicas('cl-batch')).toBe(1);
      expect(callsTo('scale-service')).toHaveLength(4);
      expect(calls.every((c) => c.status === 200)).toBe(true);
    });

    it('resolves the alert when memory falls back, and nothing more happens', async () => {
      const before = calls.length;
      memory['cl-web'] = 0.5;
      memory['cl-batch'] = 0.5;
      await poll('the alert resolved in Prometheus and both Alertmanagers', 30_000, async () => {
        if ((await prometheus.alerts()).length > 0) return false;
        const active = await Promise.all(
          alertmanagers.map((am) => activeInAlertmanager(am, 'ServiceMemoryHigh')),
        );
        return active.every((n) => n === 0);
      });
      // The route sends no resolved notifications (send_resolved: false): when each Alertmanager
      // next looks at the groups (group_interval after its delivery), it calls nobody.
      const resolvedFlush = /msg=flushing alerts="?\[ServiceMemoryHigh\[\w+\]\[resolved\]\]/g;
      await poll(
        'both Alertmanagers to flush both resolved groups',
        groupInterval('scale-service') + 15_000,
        async () => alertmanagers.every((am) => (am.logs().match(resolvedFlush) ?? []).length >= 2),
      );
      await sleep(2_000);
      expect(calls.slice(before)).toEqual([]);
      expect(await replicas('cl-web')).toBe(2);
      expect(await replicas('cl-batch')).toBe(1);
      // 50 % is above ServiceMemoryLow's 20 %: nothing pending either.
      expect(await prometheus.alerts()).toEqual([]);
      // ServiceMemoryHigh goes to scale-service only: no chat message about it, firing or resolved.
      expect(JSON.stringify(chat.messages)).not.toContain('ServiceMemoryHigh');
    });

    it('removes a node whose exporter stopped answering and whose dockerd died, after the grace period', async () => {
      const before = calls.length;
      const worker = swarm.node('w1');
      const instance = `${worker.address}:9100`;
      exporter.silence(nodeTarget('w1'));
      await swarm.killNode('w1');

      await poll('NodeDown to fire for w1', 30_000, async () =>
        (await firing('NodeDown')).some((a) => a.labels.instance === instance),
      );
      await swarm.waitForNodeState('w1', 'down', 60_000);
      // Down since, for replace-node: when swarmkit last wrote the node, i.e. marked it down.
      const down = (await swarm.docker().listNodes()).find((n) => n.ID === worker.nodeId);
      const downSince = Date.parse(down?.UpdatedAt ?? '');
      // replace-node's route waits group_wait (30 s) before its first delivery.
      await poll('replace-node to remove w1', 90_000, async () =>
        callsTo('replace-node', before).some((c) => c.outcomes.some((o) => o.kind === 'replaced')),
      );
      const nodes = await swarm.docker().listNodes();
      expect(nodes.map((n) => n.ID)).not.toContain(worker.nodeId);
      expect(nodes).toHaveLength(1);

      const outcomes = callsTo('replace-node', before).flatMap((c) => c.outcomes);
      const replaced = callsTo('replace-node', before).filter((c) =>
        c.outcomes.some((o) => o.kind === 'replaced'),
      );
      expect(replaced).toHaveLength(1);
      expect(replaced[0]?.at).toBeGreaterThanOrEqual(downSince + GRACE_SECONDS * 1_000);
      expect(outcomes.filter((o) => o.kind === 'replaced')).toEqual([
        expect.objectContaining({
          target: `address ${worker.address}`,
          node: worker.nodeId,
          hostname: 'w1',
          role: 'worker',
          detail: 'node removed from the swarm; no instance was replaced (no cloud configured)',
        }),
      ]);

      // NodeDown also goes on to notify (continue: true): a chat message from each Alertmanager.
      await poll('notify to deliver NodeDown', 30_000, async () =>
        chat.messages.some((m) => JSON.stringify(m).includes('"alertname":"NodeDown"')),
      );
      expect(callsTo('notify', before).length).toBeGreaterThanOrEqual(1);
      expect(calls.slice(before).every((c) => c.status === 200)).toBe(true);
      // The nodes' memory stayed between the cluster thresholds: scale-nodes was never called.
      expect(callsTo('scale-nodes')).toEqual([]);
      expect((await prometheus.alerts()).map((a) => a.labels.alertname)).toEqual(['NodeDown']);
    });
  },
);
