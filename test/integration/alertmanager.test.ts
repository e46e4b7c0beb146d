import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../scripts/local/routes';
import { type LocalServer, startLocalServer } from '../../scripts/local/server';
import {
  requireRealHarness,
  serviceState,
  startAlertmanager,
  startSwarm,
  type TestAlertmanager,
  type TestSwarm,
} from '../harness';

const TOKEN = 'alertmanager-token-0123456789';
const describeReal = requireRealHarness(describe, ['swarm', 'alertmanager']);
const shippedConfig = readFileSync(new URL('../../deploy/alertmanager.yml', import.meta.url), 'utf8');

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describeReal('the shipped Alertmanager config against a real Alertmanager and a real swarm', () => {
  let swarm: TestSwarm;
  let server: LocalServer;
  let dir: string;
  const requests: string[] = [];
  const alertmanagers: TestAlertmanager[] = [];

  /** The shipped config with only the API URL and the credentials file changed. */
  function configWith(token: string, name: string): string {
    const tokenFile = join(dir, `${name}.token`);
    writeFileSync(tokenFile, token);
    const config = shippedConfig
      .replaceAll('https://swarm-reflex.example.com', server.url)
      .replaceAll('/etc/alertmanager/swarm-reflex-token', tokenFile);
    expect(config).not.toBe(shippedConfig);
    return config;
  }

  const replicas = async (name: string) => (await serviceState(swarm.docker(), name)).replicas;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'swarm-reflex-am-test-'));
    swarm = await startSwarm({ managers: 1, label: 'alertmanager' });
    process.env.DOCKER_HOST = swarm.manager.dockerHost;
    process.env.WEBHOOK_TOKENS = TOKEN;
    server = await startLocalServer({ routes, port: 0, onRequest: (line) => requests.push(line) });
  });

  afterAll(async () => {
    for (const am of alertmanagers) await am.stop();
    await server?.close();
    await swarm?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a fired alert routed by service and scale, and the service scales', async () => {
    await swarm.createService({ name: 'am-demo', replicas: 1, labels: { 'com.df.scaleMax': '3' } });
    const am = await startAlertmanager({ configYaml: configWith(TOKEN, 'good') });
    alertmanagers.push(am);
    await am.fire([
      {
        labels: { alertname: 'ServiceMemoryHigh', service: 'am-demo', scale: 'up', severity: 'warning' },
        annotations: { summary: 'memory of am-demo over 80%' },
      },
    ]);
    await waitFor('the replicas to change', async () =>
      (await replicas('am-demo')) === 2 ? true : undefined,
    );
    expect(requests.filter((r) => r.includes('-> 200'))).toHaveLength(1);
  });

  it('gets 401 with a wrong token, and nothing changes', async () => {
    await swarm.createService({ name: 'am-guarded', replicas: 1, labels: { 'com.df.scaleMax': '3' } });
    const am = await startAlertmanager({ configYaml: configWith('a-wrong-token-0123456789', 'wrong') });
    alertmanagers.push(am);
    const before = requests.length;
    await am.fire([{ labels: { alertname: 'ServiceMemoryHigh', service: 'am-guarded', scale: 'up' } }]);
    await waitFor('the delivery', async () =>
      requests.slice(before).some((r) => r.includes('-> 401')) ? true : undefined,
    );
    expect(await replicas('am-guarded')).toBe(1);
    expect(am.logs()).toMatch(/401/);
  });
});
