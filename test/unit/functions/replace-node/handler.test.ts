import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeHandler } from '../../../../functions/replace-node/handler';
import { parseReplaceRequest } from '../../../../functions/replace-node/request';
import { createLogger } from '../../../../shared/adapters/logger';
import { parseSettings } from '../../../../shared/config/settings';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const TOKEN = 'replace-node-token-0123456789';
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../../events/replace-node/${name}`, import.meta.url), 'utf8'));

function setup() {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('ip-10-0-1-23.eu-west-1.compute.internal', {
      address: '10.0.1.23',
      state: 'down',
      updatedAt: new Date('2026-11-24T10:00:00Z'),
    })
    .add('w2');
  const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN, NODE_DOWN_GRACE_SECONDS: '60' });
  const handler = makeHandler({
    settings,
    logger: createLogger({ level: 'error', sink: () => {} }),
    tokens: async () => settings.webhookTokens,
    swarm,
    cloud: undefined,
    notifier: recordingNotifier(),
    clock: { now: () => new Date('2026-11-24T12:00:00Z') },
    ...fastRetry,
  });
  return { swarm, handler };
}

const http = (body: string, auth = `Bearer ${TOKEN}`) => ({
  version: '2.0',
  headers: { authorization: auth },
  requestContext: { http: { method: 'POST' } },
  body,
});

describe('replace-node handler', () => {
  it('replaces the node a node-exporter alert names by address', async () => {
    const { handler, swarm } = setup();
    const response = await handler(http(JSON.stringify(fixture('webhook-node-down.json'))));
    expect(response.statusCode).toBe(200);
    const outcome = JSON.parse(response.body).outcomes[0];
    expect(outcome).toMatchObject({
      kind: 'replaced',
      detail: expect.stringContaining('no instance was replaced'),
    });
    expect(outcome).not.toHaveProperty('instance');
    expect(swarm.removed).toEqual(['ip-10-0-1-23.eu-west-1.compute.internal']);
  });

  it('accepts a direct invocation naming the node', async () => {
    const { handler, swarm } = setup();
    const response = await handler(fixture('direct-node.json'));
    expect(JSON.parse(response.body).outcomes[0]).toMatchObject({ kind: 'replaced' });
    expect(swarm.removed).toHaveLength(1);
  });

  it('fails a direct invocation that could not be done, so that Lambda retries it and then sends it to the failure queue', async () => {
    const { handler, swarm } = setup();
    const listNodes = swarm.listNodes.bind(swarm);
    const { DependencyUnavailableError } = await import('../../../../shared/domain/errors');
    swarm.listNodes = async () => {
      throw new DependencyUnavailableError(
        'docker',
        'listing nodes: Docker API unavailable (connect ECONNREFUSED)',
      );
    };
    // An HTTP caller (Alertmanager) gets the 503 and retries by itself.
    const viaHttp = await handler(http(JSON.stringify(fixture('webhook-node-down.json'))));
    expect(viaHttp.statusCode).toBe(503);
    // An asynchronous invocation (the sweep's dispatch) must fail, not succeed with a 503 inside.
    await expect(handler(fixture('direct-node.json'))).rejects.toThrow(/Docker API unavailable/);
    swarm.listNodes = listNodes;
    expect(swarm.removed).toEqual([]);
  });

  it.each([
    [{ node: 'a', instance: 'b' }, /expected an Alertmanager webhook, or/],
    [{}, /expected an Alertmanager webhook, or/],
    [{ node: 'x', extra: 1 }, /expected an Alertmanager webhook, or/],
    [{ node: '../../etc' }, /not a node ID, hostname/],
    [{ instance: 'i-zzz;rm -rf' }, /not a node ID, hostname/],
    [{ node: 42 }, /expected an Alertmanager webhook, or/],
    ['just a string', /expected an Alertmanager webhook, or/],
  ])('answers 400 to the direct event %o and changes nothing', async (event, message) => {
    const { handler, swarm } = setup();
    const response = await handler(event);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(message);
    expect(swarm.removed).toEqual([]);
  });

  it('ignores resolved alerts and alerts without or with hostile target labels', () => {
    const body = {
      version: '4',
      status: 'firing',
      alerts: [
        { status: 'resolved', labels: { node: 'w1' } },
        { status: 'firing', labels: { alertname: 'x' } },
        { status: 'firing', labels: { node: 'w1/../x' } },
        { status: 'firing', labels: { instance: '%2F%2E%2E' } },
        { status: 'firing', labels: { node: 'n'.repeat(300) } },
      ],
    };
    const { input } = parseReplaceRequest(body, 100);
    expect(input.targets).toEqual([]);
    expect(input.ignored.map((o) => o.reason)).toEqual([
      'resolved',
      'no-target-label',
      'invalid-target-label',
      'invalid-target-label',
      'invalid-target-label',
    ]);
  });

  it('answers 401 without a token, 400 for a non-webhook body, 413 when oversized', async () => {
    const { handler, swarm } = setup();
    expect((await handler(http('{}', 'Bearer nope-nope-nope-nope'))).statusCode).toBe(401);
    expect((await handler(http('not json'))).statusCode).toBe(400);
    expect((await handler(http(JSON.stringify({ alerts: 'x' })))).statusCode).toBe(400);
    expect((await handler(http(`{"pad":"${'x'.repeat(1_100_000)}"}`))).statusCode).toBe(413);
    const dry = {
      ...http(JSON.stringify(fixture('webhook-node-down.json'))),
      queryStringParameters: { dryRun: 'maybe' },
    };
    expect((await handler(dry)).statusCode).toBe(400);
    expect(swarm.removed).toEqual([]);
  });
});
