import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../scripts/local/routes';
import { type LocalServer, startLocalServer } from '../../scripts/local/server';
import { SCALED_AT_LABEL } from '../../shared/domain/labels';
import { requireRealHarness, serviceState, startSwarm, type TestSwarm } from '../harness';

const TOKEN = 'integration-token-0123456789';
const describeReal = requireRealHarness(describe, ['swarm']);
const upFixture = readFileSync(
  new URL('../../events/scale-service/webhook-scale-up.json', import.meta.url),
  'utf8',
);

/** A webhook for one service, from the shipped fixture with its labels changed. */
function webhookFor(service: string, scale: string, extra: Record<string, string> = {}): string {
  const body = JSON.parse(upFixture) as { alerts: Array<{ labels: Record<string, string> }> };
  for (const alert of body.alerts) alert.labels = { ...alert.labels, service, scale, ...extra };
  return JSON.stringify(body);
}

describeReal('scale-service against a real swarm', () => {
  let swarm: TestSwarm;
  let server: LocalServer;

  beforeAll(async () => {
    swarm = await startSwarm({ managers: 1, label: 'scale-service' });
    // The handler module validates its settings when first loaded, as at a Lambda cold start.
    process.env.DOCKER_HOST = swarm.manager.dockerHost;
    process.env.WEBHOOK_TOKENS = TOKEN;
    process.env.MAX_BODY_BYTES = String(256 * 1024);
    server = await startLocalServer({ routes, port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await swarm?.teardown();
  });

  async function post(body: string, query = '', auth = `Bearer ${TOKEN}`) {
    const response = await fetch(`${server.url}/alerts/scale-service${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body,
    });
    return {
      status: response.status,
      body: (await response.json()) as { outcomes?: Array<Record<string, unknown>>; message?: string },
    };
  }

  const inspect = (name: string) => serviceState(swarm.docker(), name);

  async function service(name: string, replicas: number, labels: Record<string, string>) {
    await swarm.createService({ name, replicas, labels });
    return inspect(name);
  }

  it('scales a service up by its step, and its tasks follow', async () => {
    await service('up', 1, { 'com.df.scaleMax': '3', 'com.df.scaleUpBy': '2' });
    const response = await post(webhookFor('up', 'up'));
    expect(response.status).toBe(200);
    expect(response.body.outcomes).toEqual([
      { kind: 'scaled', alert: '5a4c1c0a9b7e2f31', service: 'up', from: 1, to: 3 },
    ]);
    const after = await inspect('up');
    expect(after.replicas).toBe(3);
    expect(after.labels[SCALED_AT_LABEL]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(after.labels['com.df.scaleMax']).toBe('3');
    await swarm.waitForRunningTasks('up', 3, 60_000);
  });

  it('scales a service down by its step', async () => {
    await service('down', 3, { 'com.df.scaleMax': '5', 'com.df.scaleMin': '1' });
    const response = await post(webhookFor('down', 'down'));
    expect(response.body.outcomes?.[0]).toMatchObject({ kind: 'scaled', from: 3, to: 2 });
    expect((await inspect('down')).replicas).toBe(2);
  });

  it('clamps at com.df.scaleMax and refuses once there', async () => {
    await service('clamp-max', 2, {
      'com.df.scaleMax': '3',
      'com.df.scaleUpBy': '5',
      'com.df.scaleCooldown': '5',
    });
    expect((await post(webhookFor('clamp-max', 'up'))).body.outcomes?.[0]).toMatchObject({
      kind: 'scaled',
      to: 3,
    });
    await new Promise((r) => setTimeout(r, 5_200));
    const before = await inspect('clamp-max');
    expect((await post(webhookFor('clamp-max', '+1'))).body.outcomes?.[0]).toMatchObject({
      kind: 'skipped',
      reason: 'at-max',
    });
    expect(await inspect('clamp-max')).toEqual(before);
  });

  it('clamps at com.df.scaleMin and refuses once there', async () => {
    await service('clamp-min', 3, {
      'com.df.scaleMax': '5',
      'com.df.scaleMin': '2',
      'com.df.scaleDownBy': '4',
    });
    expect((await post(webhookFor('clamp-min', 'down'))).body.outcomes?.[0]).toMatchObject({
      kind: 'scaled',
      to: 2,
    });
    await service('at-min', 2, { 'com.df.scaleMax': '5', 'com.df.scaleMin': '2' });
    const before = await inspect('at-min');
    expect((await post(webhookFor('at-min', '-1'))).body.outcomes?.[0]).toMatchObject({
      kind: 'skipped',
      reason: 'at-min',
    });
    expect(await inspect('at-min')).toEqual(before);
  });

  it('leaves a service that did not opt in with com.df.scaleMax untouched', async () => {
    const before = await service('not-opted', 1, { 'com.df.scaleMin': '1' });
    expect((await post(webhookFor('not-opted', 'up'))).body.outcomes?.[0]).toMatchObject({
      kind: 'skipped',
      reason: 'not-managed',
    });
    expect(await inspect('not-opted')).toEqual(before);
  });

  it('honours the cooldown written on the service, then scales again after it', async () => {
    await service('cool', 1, { 'com.df.scaleMax': '5', 'com.df.scaleCooldown': '5' });
    expect((await post(webhookFor('cool', 'up'))).body.outcomes?.[0]).toMatchObject({
      kind: 'scaled',
      to: 2,
    });
    const during = await inspect('cool');
    expect((await post(webhookFor('cool', 'up'))).body.outcomes?.[0]).toMatchObject({
      kind: 'skipped',
      reason: 'cooldown',
    });
    expect(await inspect('cool')).toEqual(during);
    await new Promise((r) => setTimeout(r, 5_200));
    expect((await post(webhookFor('cool', 'up'))).body.outcomes?.[0]).toMatchObject({
      kind: 'scaled',
      from: 2,
      to: 3,
    });
  });

  it('returns the plan and changes nothing on ?dryRun=true', async () => {
    const before = await service('dry', 1, { 'com.df.scaleMax': '5' });
    const response = await post(webhookFor('dry', 'up'), '?dryRun=true');
    expect(response.body.outcomes?.[0]).toMatchObject({ kind: 'skipped', reason: 'dry-run', from: 1, to: 2 });
    expect(await inspect('dry')).toEqual(before);
  });

  it('takes service and scale from a Jenkins-style query string', async () => {
    await service('go-demo_main', 1, { 'com.df.scaleMax': '5' });
    const body = JSON.stringify({
      version: '4',
      status: 'firing',
      alerts: [{ status: 'firing', labels: { alertname: 'MemHigh' } }],
    });
    const response = await post(body, '?service=go-demo_main&scale=1');
    expect(response.body.outcomes?.[0]).toMatchObject({
      kind: 'scaled',
      service: 'go-demo_main',
      from: 1,
      to: 2,
    });
    expect((await inspect('go-demo_main')).replicas).toBe(2);
  });

  it('scales exactly one step when the same alert arrives 20 times at once', async () => {
    await service('burst', 1, { 'com.df.scaleMax': '10' });
    const body = webhookFor('burst', 'up');
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(body)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const outcomes = responses.flatMap((r) => r.body.outcomes ?? []);
    expect(outcomes.filter((o) => o.kind === 'scaled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.reason === 'cooldown')).toHaveLength(19);
    expect((await inspect('burst')).replicas).toBe(2);
  });

  it('changes nothing for hostile or malformed input, and says what is wrong', async () => {
    const before = await service('target', 1, { 'com.df.scaleMax': '5' });
    const cases: Array<[string, string, number, RegExp]> = [
      ['not JSON', '{nope', 400, /not JSON/],
      ['not a webhook', '{"alerts":"all"}', 400, /version/],
      ['oversized', JSON.stringify({ pad: 'x'.repeat(300 * 1024) }), 413, /limit is 262144/],
      [
        '10,000 alerts',
        JSON.stringify({ version: '4', status: 'firing', alerts: Array(10_000).fill({}) }),
        400,
        /10000 alerts/,
      ],
    ];
    for (const [name, body, status, message] of cases) {
      const response = await post(body);
      expect(response.status, name).toBe(status);
      expect(response.body.message, name).toMatch(message);
    }
    for (const label of ['../target', 'target/x', 'target%2Fx', 'tar\nget', 't'.repeat(300)]) {
      const response = await post(webhookFor(label, 'up'));
      expect(response.status).toBe(200);
      expect(response.body.outcomes?.[0]).toMatchObject({ kind: 'ignored', reason: 'invalid-service-label' });
    }
    for (const scale of ['lots', '0', '1.5', 'up down']) {
      expect((await post(webhookFor('target', scale))).body.outcomes?.[0]).toMatchObject({
        reason: 'invalid-scale-label',
      });
    }
    expect((await post(webhookFor('target', 'up'), '?service=..%2Ftarget')).status).toBe(400);
    expect((await post(webhookFor('target', 'up'), '', 'Bearer not-the-token-at-all')).status).toBe(401);
    expect(await inspect('target')).toEqual(before);
  });

  it('refuses bound labels that are not numbers, negative, or inverted, naming the label', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['bad-max', { 'com.df.scaleMax': 'many' }, /com\.df\.scaleMax/],
      ['neg-min', { 'com.df.scaleMax': '5', 'com.df.scaleMin': '-2' }, /com\.df\.scaleMin/],
      ['inverted', { 'com.df.scaleMax': '2', 'com.df.scaleMin': '4' }, /above com\.df\.scaleMax/],
    ];
    for (const [name, labels, detail] of cases) {
      const before = await service(name, 1, labels);
      const outcome = (await post(webhookFor(name, 'up'))).body.outcomes?.[0];
      expect(outcome).toMatchObject({ kind: 'skipped', reason: 'invalid-labels' });
      expect(String(outcome?.detail)).toMatch(detail);
      expect(await inspect(name)).toEqual(before);
    }
  });

  it('ignores global-mode services', async () => {
    await swarm.createService({ name: 'everywhere', mode: 'global', labels: { 'com.df.scaleMax': '5' } });
    expect((await post(webhookFor('everywhere', 'up'))).body.outcomes?.[0]).toMatchObject({
      kind: 'ignored',
      reason: 'global-mode',
    });
  });
});
