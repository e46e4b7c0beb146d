import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeHandler as makeSweep } from '../../functions/health-sweep/handler';
import { makeHandler as makeReplaceNode } from '../../functions/replace-node/handler';
import { makeHandler as makeScaleNodes } from '../../functions/scale-nodes/handler';
import { makeHandler as makeScaleService } from '../../functions/scale-service/handler';
import { makeHandler as makeSync } from '../../functions/sync-join-tokens/handler';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { reportOnlyDispatcher } from '../../shared/adapters/lambda';
import type { ManagerPool } from '../../shared/adapters/manager-pool';
import { createParameterStore } from '../../shared/adapters/ssm';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { buildManagerPool, dockerClients } from '../../shared/config/managers';
import { parseSettings, type Settings } from '../../shared/config/settings';
import { localContext } from '../../shared/edge/middleware/invocation-context';
import {
  type ChatReceiver,
  requireRealHarness,
  startChatReceiver,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { fakeAutoScaling } from '../support/fake-autoscaling';
import { fakeSsm } from '../support/fake-ssm';
import { webhookEvent } from '../support/http-event';
import { memoryLogger, realNotifier } from '../support/real-deps';

// Loading sync-join-tokens' handler module builds its default dependencies, which need a
// settings prefix (as at a cold start). Set before the imports, unset after.
const hoisted = vi.hoisted(() => {
  const had = process.env.SETTINGS_PREFIX !== undefined;
  process.env.SETTINGS_PREFIX ??= '/swarm-reflex/it-pool-default';
  return { had };
});
if (!hoisted.had) delete process.env.SETTINGS_PREFIX;

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'manager-pool-token-0123456789';
const PREFIX = '/swarm-reflex/it-pool';

interface NodeView {
  ID: string;
  Spec: { Role: string };
  Description: { Hostname: string };
  Status: { State: string };
  ManagerStatus?: { Reachability?: string; Leader?: boolean };
}

/**
 * Reach the swarm through any manager (3 managers + 2 workers): the pool lists m1 first, then
 * m2 and m3 (SWARM_MANAGERS). m1 is cut off, then killed and replaced; then two of three
 * managers are gone; then nothing answers at all.
 */
describeReal('the manager pool on a real swarm (3 managers, 2 workers)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;
  let asg: ReturnType<typeof fakeAutoScaling>;
  let ssm: ReturnType<typeof fakeSsm>;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 3, workers: 2, label: 'pool' }),
      startChatReceiver(),
    ]);
    await swarm.createService({
      name: 'web',
      replicas: 1,
      labels: { 'com.df.scaleMax': '10', 'com.df.scaleCooldown': '5' },
    });
    asg = fakeAutoScaling({ name: 'workers', min: 0, max: 10, desired: 2, instances: [] }, () => new Date());
    ssm = fakeSsm();
  });
  afterAll(async () => {
    asg?.mock.restore();
    ssm?.mock.restore();
    await chat?.close();
    await swarm?.teardown();
  });

  function settingsFor(env: Record<string, string> = {}): Settings {
    return parseSettings({
      WEBHOOK_TOKENS: TOKEN,
      DOCKER_HOST: swarm.node('m1').dockerHost,
      SWARM_MANAGERS: `${swarm.node('m2').dockerHost},${swarm.node('m3').dockerHost}`,
      DOCKER_TIMEOUT_MS: '2000',
      CLOUD: 'aws',
      CLUSTER_TAG: 'swarm-reflex:cluster=pool',
      WORKER_ASG_NAME: 'workers',
      NODE_DOWN_GRACE_SECONDS: '0',
      MAX_DOWN_SHARE: '1',
      ...env,
    });
  }
  /** The pool the functions build from their settings (no SSM list here: SWARM_MANAGERS). */
  const poolFor = (settings: Settings): ManagerPool =>
    buildManagerPool(settings, {
      client: dockerClients(settings, async () => undefined),
      parameters: undefined,
    });

  /** Every function, built as its handler builds itself, on the same pool (one container each). */
  function functions(settings = settingsFor()) {
    const logger = memoryLogger().logger;
    const common = {
      settings,
      logger,
      tokens: async () => settings.webhookTokens,
      clock: { now: () => new Date() },
    };
    const pool = poolFor(settings);
    return {
      pool,
      scaleService: makeScaleService({ ...common, swarm: createSwarmServices(pool) }),
      scaleNodes: makeScaleNodes({
        ...common,
        swarm: createSwarmNodes(pool),
        tasks: createSwarmTasks(pool),
        group: createWorkerGroup(asg.client, 'workers'),
        notifier: realNotifier('scale-nodes', { webhook: chat.url }),
      }),
      replaceNode: makeReplaceNode({
        ...common,
        swarm: createSwarmNodes(pool),
        cloud: undefined,
        notifier: realNotifier('replace-node', { webhook: chat.url }),
      }),
      sync: makeSync({
        logger,
        dryRun: false,
        swarm: createSwarmNodes(pool),
        parameters: createParameterStore(ssm.client),
        notifier: realNotifier('sync-join-tokens', {}),
        clock: common.clock,
        settings: { settingsPrefix: PREFIX, joinTokenMaxAgeDays: 0 },
      }),
      sweep: makeSweep({
        logger,
        dryRun: false,
        nodes: createSwarmNodes(pool),
        services: createSwarmServices(pool),
        tasks: createSwarmTasks(pool),
        group: undefined,
        dispatcher: reportOnlyDispatcher('integration test'),
        joinParameters: { notChecked: 'integration test' },
        notifier: realNotifier('health-sweep', {}),
        clock: common.clock,
        settings,
      }),
    };
  }

  const json = (r: { statusCode: number; body: string }) => ({ status: r.statusCode, ...JSON.parse(r.body) });
  const listNodes = async () => (await swarm.docker(swarm.node('m2')).listNodes()) as NodeView[];

  /** Each function once: all must answer, none with a 503, and say which manager served them. */
  async function everyFunctionWorks(fns: ReturnType<typeof functions>, expectManagerNot: string) {
    const scaled = json(
      await fns.scaleService(webhookEvent(TOKEN, [{ alertname: 'Load', service: 'web', scale: 'up' }])),
    );
    expect(scaled, JSON.stringify(scaled)).toMatchObject({ status: 200 });
    expect(['scaled', 'skipped']).toContain(scaled.outcomes[0].kind);
    expect(scaled.manager).not.toBe(expectManagerNot);
    const nodesUp = json(
      await fns.scaleNodes(webhookEvent(TOKEN, [{ alertname: 'Cap', type: 'node', scale: 'up' }])),
    );
    expect(nodesUp.status, JSON.stringify(nodesUp)).toBe(200);
    const replace = json(await fns.replaceNode(webhookEvent(TOKEN, [{ alertname: 'Down', node: 'w1' }])));
    expect(replace, JSON.stringify(replace)).toMatchObject({
      status: 200,
      outcomes: [expect.objectContaining({ reason: 'node-not-down' })],
    });
    const synced = await fns.sync({});
    expect(['synced', 'unchanged']).toContain(synced.outcomes[0]?.kind);
    const swept = await fns.sweep({});
    expect(swept.outcomes.some((f) => f.kind === 'quorum' && f.state === 'no-leader')).toBe(false);
    return { scaled, swept };
  }

  it('works through the majority while the manager listed first is cut off and sees no leader', async () => {
    const fns = functions();
    await swarm.isolateNode('m1');
    try {
      // Wait until m1 itself says it has no leader: its own view, not the swarm's.
      const m1 = swarm.docker(swarm.node('m1'));
      const deadline = Date.now() + 60_000;
      for (;;) {
        const answer = await m1.listNodes().then(
          () => 'ok',
          (e: Error) => e.message,
        );
        if (/leader/.test(answer)) break;
        if (Date.now() > deadline) throw new Error(`m1 never reported the lost leader (last: ${answer})`);
        await sleep(500);
      }
      const { scaled } = await everyFunctionWorks(fns, swarm.node('m1').dockerHost);
      expect([swarm.node('m2').dockerHost, swarm.node('m3').dockerHost]).toContain(scaled.manager);
    } finally {
      await swarm.reconnectNode('m1');
    }
    // Raft may hold elections for a while once m1 (with its higher term) is back: on 2 busy
    // cores a CI run once saw no leader for over 60 s.
    await swarm.waitForNodeState('m1', 'ready', 180_000);
  }, 300_000);

  it('works through the next manager when the first one in the pool is dead, and replaces that manager', async () => {
    // Let m1 be a reachable manager again before it dies.
    const deadline = Date.now() + 180_000;
    while (
      !(await listNodes()).every(
        (n) => n.Spec.Role !== 'manager' || n.ManagerStatus?.Reachability === 'reachable',
      )
    ) {
      if (Date.now() > deadline) throw new Error('m1 did not become reachable again');
      await sleep(500);
    }
    const m1 = swarm.node('m1');
    await swarm.killNode('m1');
    await swarm.waitForNodeState('m1', 'down');
    const fns = functions();
    await everyFunctionWorks(fns, m1.dockerHost);
    // The pool remembers who answered: the warm path does not try the dead one again.
    expect(fns.pool.current).not.toBe(m1.dockerHost);

    const replaced = json(await fns.replaceNode(webhookEvent(TOKEN, [{ alertname: 'Down', node: 'm1' }])));
    expect(replaced, JSON.stringify(replaced)).toMatchObject({
      status: 200,
      outcomes: [expect.objectContaining({ kind: 'replaced', role: 'manager' })],
    });
    const after = await listNodes();
    expect(after.find((n) => n.ID === m1.nodeId)).toBeUndefined();
    const managers = after.filter((n) => n.Spec.Role === 'manager');
    expect(managers.map((m) => m.ManagerStatus?.Reachability)).toEqual(['reachable', 'reachable']);
  }, 300_000);

  it('says quorum-lost, naming who answered and who did not, when no reachable manager sees a leader', async () => {
    await swarm.killNode('m3');
    const m2 = swarm.docker(swarm.node('m2'));
    const deadline = Date.now() + 60_000;
    while (
      !(await m2.listNodes().then(
        () => false,
        (e: Error) => /leader/.test(e.message),
      ))
    ) {
      if (Date.now() > deadline) throw new Error('m2 never lost its leader');
      await sleep(500);
    }
    const fns = functions();
    const before = (await m2.listNodes().catch(() => [])).length;
    const replace = json(await fns.replaceNode(webhookEvent(TOKEN, [{ alertname: 'Down', node: 'w1' }])));
    expect(replace, JSON.stringify(replace)).toMatchObject({
      status: 200,
      outcomes: [expect.objectContaining({ kind: 'refused', reason: 'quorum-lost' })],
    });
    const detail: string = replace.outcomes[0].detail;
    expect(detail).toContain(`${swarm.node('m2').dockerHost}: no-leader`);
    expect(detail).toContain(`${swarm.node('m3').dockerHost}: no answer`);
    expect(detail).toMatch(/surviving side only/);
    expect(before).toBe(0);
    const swept = await fns.sweep({});
    expect(swept.outcomes).toEqual([expect.objectContaining({ kind: 'quorum', state: 'no-leader' })]);
    // Restore quorum for the last test's clean teardown: m3 back.
    await swarm.restartNode('m3');
  });

  it('answers 503 within the time Lambda gives it when no endpoint answers at all', async () => {
    // Endpoints that accept a connection and never answer: the worst kind.
    const silent: Server[] = [];
    const endpoints: string[] = [];
    for (let i = 0; i < 4; i++) {
      const server = createServer(() => {});
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      silent.push(server);
      endpoints.push(`tcp://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    try {
      const settings = settingsFor({
        DOCKER_HOST: endpoints[0] as string,
        SWARM_MANAGERS: endpoints.slice(1).join(','),
        DOCKER_TIMEOUT_MS: '1500',
      });
      const fns = functions(settings);
      const remainingMs = 4_000;
      const ends = Date.now() + remainingMs;
      const context = { ...localContext('test'), getRemainingTimeInMillis: () => ends - Date.now() };
      const timedOut = new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), remainingMs));
      const answer = await Promise.race([
        fns.scaleService(webhookEvent(TOKEN, [{ alertname: 'Load', service: 'web', scale: 'up' }]), context),
        timedOut,
      ]);
      expect(answer).not.toBe('timed out');
      const body = json(answer as { statusCode: number; body: string });
      expect(body).toMatchObject({ status: 503, retry: true });
      expect(body.message).toMatch(/no swarm manager answered/);
    } finally {
      for (const s of silent) s.close();
    }
  });
});
