import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/scale-service/handler';
import { createDockerClient } from '../../shared/adapters/docker';
import { createLogger } from '../../shared/adapters/logger';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { DependencyUnavailableError } from '../../shared/domain/errors';
import { requireRealHarness, serviceState, startSwarm, stripPath, type TestSwarm } from '../harness';
import { webhookEvent } from '../support/http-event';

/**
 * Docker answers that mean "the request is wrong" or "this is not the swarm talking", from a
 * real manager: an alert naming an ambiguous service-ID prefix is that alert's `not-found`
 * (the other alerts still act), and a list endpoint answering 404 (a proxy routing the path
 * elsewhere) is Docker unavailable, never an empty swarm.
 */
const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'docker-answers-it-token-0123';
const quiet = createLogger({ level: 'error', sink: () => {} });

/**
 * In front of the manager's socket: forwards everything but the three list endpoints, which
 * get the 404 a router without that route gives (Go's `404 page not found`, as text).
 */
async function startMisroutingProxy(target: string): Promise<{ dockerHost: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'srxmisroute-'));
  const socketPath = join(dir, 'docker.sock');
  const server: Server = createServer((req, res) => {
    const path = stripPath(req.url ?? '/');
    if (req.method === 'GET' && /^\/(services|nodes|tasks)$/.test(path)) {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
      return;
    }
    const upstream = httpRequest(
      { socketPath: target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    dockerHost: `unix://${socketPath}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

describeReal('Docker answers that are not the swarm state (real manager)', () => {
  let swarm: TestSwarm;

  beforeAll(async () => {
    swarm = await startSwarm({ managers: 1, label: 'docker-answers' });
  });

  afterAll(async () => {
    await swarm?.teardown();
  });

  const dockerFor = (dockerHost: string) => {
    const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN, DOCKER_HOST: dockerHost });
    const docker = createDockerClient(settings.docker);
    return { settings, docker: async () => docker };
  };

  it('answers not-found for an alert naming an ambiguous ID prefix, and still acts on the others', async () => {
    await swarm.createService({ name: 'web', replicas: 1, labels: { 'com.df.scaleMax': '3' } });
    // Service IDs are random: create idle services until two IDs share their first character
    // (at most 37 services; usually a handful), so that character is an ambiguous prefix.
    const seen = new Map<string, string>();
    let prefix: string | undefined;
    for (let i = 0; prefix === undefined && i < 40; i++) {
      const id = await swarm.createService({ name: `idle-${i}`, replicas: 0 });
      const first = id.slice(0, 1);
      if (seen.has(first)) prefix = first;
      seen.set(first, id);
    }
    expect(prefix).toBeDefined();
    const ambiguous = prefix as string;
    // What the daemon itself answers to that prefix (the message we classify).
    await expect(swarm.docker().getService(ambiguous).inspect()).rejects.toMatchObject({
      statusCode: 400,
      json: { message: expect.stringMatching(new RegExp(`service ${ambiguous} is ambiguous`)) },
    });

    const { settings, docker } = dockerFor(swarm.manager.dockerHost);
    const handler = makeHandler({
      settings,
      logger: quiet,
      tokens: async () => settings.webhookTokens,
      swarm: createSwarmServices(docker),
      clock: { now: () => new Date() },
    });
    const response = await handler(
      webhookEvent(TOKEN, [
        { alertname: 'a', service: ambiguous, scale: 'up' },
        { alertname: 'b', service: 'web', scale: 'up' },
      ]),
    );
    expect(response.statusCode).toBe(200);
    const outcomes = (JSON.parse(response.body) as { outcomes: Array<Record<string, unknown>> }).outcomes;
    expect(outcomes).toEqual([
      expect.objectContaining({ kind: 'skipped', service: ambiguous, reason: 'not-found' }),
      expect.objectContaining({ kind: 'scaled', service: 'web', from: 1, to: 2 }),
    ]);
    expect((await serviceState(swarm.docker(), 'web')).replicas).toBe(2);
  });

  it('reads a 404 from a list endpoint as Docker unavailable, never as an empty swarm', async () => {
    const proxy = await startMisroutingProxy(swarm.manager.socketPath);
    try {
      const { docker } = dockerFor(proxy.dockerHost);
      // The proxy does reach the manager: what it does not route is the lists.
      await expect((await docker()).info()).resolves.toMatchObject({ Swarm: { LocalNodeState: 'active' } });
      const reads = {
        nodes: () => createSwarmNodes(docker).listNodes(),
        services: () => createSwarmServices(docker).listServices(),
        tasks: () => createSwarmTasks(docker).listTasks(),
      };
      for (const [what, read] of Object.entries(reads)) {
        const error = await read().then(
          (list) => list,
          (e: unknown) => e,
        );
        expect(error, what).toBeInstanceOf(DependencyUnavailableError);
        expect(String(error), what).toMatch(new RegExp(`listing ${what}.*404`));
      }
    } finally {
      await proxy.close();
    }
  });
});
