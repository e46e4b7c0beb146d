import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeHandler } from '../../../../functions/scale-service/handler';
import { createLogger } from '../../../../shared/adapters/logger';
import { parseSettings } from '../../../../shared/config/settings';
import { captureEmf } from '../../../support/emf';
import { FakeSwarm, fastRetry } from '../../../support/fake-swarm';

const TOKEN = 'local-development-token-0001';
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../../events/scale-service/${name}`, import.meta.url), 'utf8'));

function setup(env: Record<string, string> = {}) {
  const swarm = new FakeSwarm().add('demo', { replicas: 1, labels: { 'com.df.scaleMax': '3' } });
  const lines: string[] = [];
  const settings = parseSettings({
    WEBHOOK_TOKENS: `${TOKEN},second-token-for-rotation`,
    MAX_BODY_BYTES: '65536',
    ...env,
  });
  const handler = makeHandler({
    settings,
    logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }),
    tokens: async () => settings.webhookTokens,
    swarm,
    clock: { now: () => new Date('2026-11-24T12:00:00Z') },
    ...fastRetry,
  });
  return { swarm, handler, lines };
}

function httpEvent(
  body: string | Buffer,
  options: { auth?: string; query?: Record<string, string>; base64?: boolean } = {},
) {
  return {
    version: '2.0',
    rawPath: '/alerts/scale-service',
    headers: { 'content-type': 'application/json', authorization: options.auth ?? `Bearer ${TOKEN}` },
    queryStringParameters: options.query,
    requestContext: { http: { method: 'POST', path: '/alerts/scale-service' } },
    body: options.base64 ? Buffer.from(body).toString('base64') : body.toString(),
    isBase64Encoded: options.base64 ?? false,
  };
}

const upWebhook = () => JSON.stringify(fixture('webhook-scale-up.json'));

describe('scale-service handler', () => {
  it('scales from the API Gateway fixture and answers 200 with one outcome per alert', async () => {
    const { handler, swarm } = setup();
    const response = await handler(fixture('http-api-scale-up.json'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      dryRun: false,
      outcomes: [{ kind: 'scaled', alert: '5a4c1c0a9b7e2f31', service: 'demo', from: 1, to: 2 }],
    });
    expect(swarm.replicas('demo')).toBe(2);
  });

  it('accepts a raw webhook invoked directly (console test) without a token', async () => {
    const { handler, swarm } = setup();
    const response = await handler(fixture('webhook-scale-down.json'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'at-min' });
    expect(swarm.updates).toBe(0);
  });

  it('takes service and scale from Jenkins-style query parameters', async () => {
    const { handler, swarm } = setup();
    const response = await handler(fixture('http-api-jenkins-query.json'));
    expect(JSON.parse(response.body).outcomes[0]).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
    expect(swarm.replicas('demo')).toBe(2);
  });

  it('accepts Basic auth with the token as password, and a second token during rotation', async () => {
    const { handler } = setup();
    const basic = `Basic ${Buffer.from(`alertmanager:${TOKEN}`).toString('base64')}`;
    expect((await handler(httpEvent(upWebhook(), { auth: basic }))).statusCode).toBe(200);
    const rotated = setup().handler;
    expect(
      (await rotated(httpEvent(upWebhook(), { auth: 'Bearer second-token-for-rotation' }))).statusCode,
    ).toBe(200);
  });

  it('answers 401 and reads nothing from Docker without valid credentials', async () => {
    const { handler, swarm } = setup();
    for (const auth of [
      '',
      'Bearer wrong-token-wrong-token',
      `Token ${TOKEN}`,
      `Bearer ${TOKEN} extra`,
      'Basic !!!',
    ]) {
      const response = await handler(httpEvent(upWebhook(), { auth }));
      expect(response.statusCode, auth).toBe(401);
      expect(JSON.parse(response.body).message).not.toContain(TOKEN);
    }
    expect(swarm.reads).toBe(0);
  });

  it('answers 413 for an oversized body before parsing it', async () => {
    const { handler, swarm } = setup();
    const response = await handler(httpEvent(`{"pad":"${'x'.repeat(70_000)}"}`));
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(response.body).message).toMatch(/limit is 65536 bytes/);
    expect(swarm.reads).toBe(0);
  });

  it.each([
    ['not JSON', 'this is not json', /body is not JSON/],
    ['empty', '', /body is empty/],
    ['an array', '[1,2]', /expected a JSON object/],
    ['not a webhook', '{"hello":"world"}', /version: must be "4".*alerts/],
    [
      'no alerts',
      JSON.stringify({ version: '4', status: 'firing', alerts: [] }),
      /alerts: must hold at least one alert/,
    ],
    [
      'a bad alert status',
      JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'on', labels: {} }] }),
      /alerts\[0\]\.status/,
    ],
    [
      'labels that are not strings',
      JSON.stringify({
        version: '4',
        status: 'firing',
        alerts: [{ status: 'firing', labels: { service: 1 } }],
      }),
      /alerts\[0\]\.labels\.service/,
    ],
  ])('answers 400 with a message for a body that is %s', async (_name, body, message) => {
    const { handler, swarm } = setup();
    const response = await handler(httpEvent(body));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(message);
    expect(swarm.reads).toBe(0);
  });

  it('answers 400 for 10,000 alerts, naming the limit', async () => {
    const { handler, swarm } = setup({ MAX_BODY_BYTES: String(4 * 1024 * 1024) });
    const alerts = Array.from({ length: 10_000 }, () => ({
      status: 'firing',
      labels: { service: 'demo', scale: 'up' },
    }));
    const response = await handler(httpEvent(JSON.stringify({ version: '4', status: 'firing', alerts })));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(/10000 alerts; the limit is 1000/);
    expect(swarm.reads).toBe(0);
  });

  it.each([
    [{ service: '../demo' }, /query parameter service/],
    [{ service: 'demo/x' }, /query parameter service/],
    [{ service: 'a'.repeat(300) }, /query parameter service/],
    [{ scale: 'lots' }, /query parameter scale/],
    [{ scale: '1,2' }, /query parameter scale/],
    [{ dryRun: 'perhaps' }, /query parameter dryRun/],
  ])('answers 400 for the bad query %o and changes nothing', async (query, message) => {
    const { handler, swarm } = setup();
    const response = await handler(httpEvent(upWebhook(), { query }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(message);
    expect(swarm.reads).toBe(0);
  });

  it('returns the plan and changes nothing with ?dryRun=true or the DRY_RUN setting', async () => {
    const viaQuery = setup();
    const r1 = await viaQuery.handler(httpEvent(upWebhook(), { query: { dryRun: 'true' } }));
    expect(JSON.parse(r1.body)).toMatchObject({
      dryRun: true,
      outcomes: [{ reason: 'dry-run', from: 1, to: 2 }],
    });
    expect(viaQuery.swarm.updates).toBe(0);
    const viaSetting = setup({ DRY_RUN: 'true' });
    const r2 = await viaSetting.handler(httpEvent(upWebhook(), { query: { dryRun: 'false' } }));
    expect(JSON.parse(r2.body)).toMatchObject({ dryRun: true });
    expect(viaSetting.swarm.updates).toBe(0);
  });

  it('decodes base64 bodies as API Gateway sends them', async () => {
    const { handler, swarm } = setup();
    expect((await handler(httpEvent(upWebhook(), { base64: true }))).statusCode).toBe(200);
    expect(swarm.replicas('demo')).toBe(2);
  });

  it('answers 503 with retry when Docker cannot be reached, and logs the cause', async () => {
    const { handler, swarm, lines } = setup();
    swarm.unreachable = true;
    const response = await handler(httpEvent(upWebhook()));
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'DependencyUnavailableError', retry: true });
    expect(response.body).not.toMatch(/at .*\.ts/);
    expect(lines.some((l) => l.includes('ECONNREFUSED'))).toBe(true);
  });

  it('logs one audit line per decision and counts outcomes as metrics', async () => {
    const { handler, lines } = setup();
    const { emf } = await captureEmf(() => handler(httpEvent(upWebhook())));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((r) => r.audit === true)).toEqual([
      expect.objectContaining({
        swarmService: 'demo',
        kind: 'scaled',
        from: 1,
        to: 2,
        function: 'scale-service',
      }),
    ]);
    expect(emf).toEqual([
      expect.objectContaining({ function: 'scale-service', kind: 'scaled', outcomes: 1 }),
    ]);
    expect(emf[0]?._aws).toMatchObject({
      CloudWatchMetrics: [
        {
          Namespace: 'SwarmReflex',
          Dimensions: [['function', 'kind', 'reason']],
          Metrics: [{ Name: 'outcomes', Unit: 'Count' }],
        },
      ],
    });
  });
});
