import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeHandler, readNodeQuery } from '../../../../functions/scale-nodes/handler';
import { createLogger } from '../../../../shared/adapters/logger';
import { parseSettings } from '../../../../shared/config/settings';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const TOKEN = 'scale-nodes-token-0123456789';
const body = (name: string) =>
  readFileSync(new URL(`../../../../events/scale-nodes/${name}`, import.meta.url), 'utf8');

function setup() {
  const swarm = new FakeNodes().add('m1', { role: 'manager' }).add('w1');
  const clock = { t: new Date('2026-11-24T12:00:00Z') };
  const calls: number[] = [];
  const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN });
  const handler = makeHandler({
    settings,
    logger: createLogger({ level: 'error', sink: () => {} }),
    tokens: async () => settings.webhookTokens,
    swarm,
    tasks: swarm,
    group: {
      describe: async () => ({
        name: 'workers',
        min: 1,
        max: 5,
        desired: 2,
        instances: [],
        lastActivityAt: undefined,
      }),
      setDesired: async (n) => void calls.push(n),
      terminateAndShrink: async () => ({ kind: 'terminated' }),
    },
    notifier: recordingNotifier(),
    clock: { now: () => clock.t },
    ...fastRetry,
  });
  return { handler, calls, swarm, clock };
}

const http = (text: string, query?: Record<string, string>, auth = `Bearer ${TOKEN}`) => ({
  version: '2.0',
  headers: { authorization: auth },
  queryStringParameters: query,
  requestContext: { http: { method: 'POST' } },
  body: text,
});

describe('scale-nodes handler', () => {
  it('scales out from the fixture, and from a Jenkins-style ?scale= override', async () => {
    const { handler, calls, clock } = setup();
    const response = await handler(http(body('webhook-scale-up.json')));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).outcomes[0]).toMatchObject({ kind: 'scaled', from: 2, to: 3 });
    clock.t = new Date(clock.t.getTime() + 301_000); // past the node-scale cooldown claimed on the swarm
    const down = JSON.parse(body('webhook-scale-down.json'));
    const viaQuery = await handler(http(JSON.stringify(down), { scale: '+2' }));
    expect(JSON.parse(viaQuery.body).outcomes[0]).toMatchObject({ kind: 'scaled', to: 4 });
    expect(calls).toEqual([3, 4]);
  });

  it.each([
    [{ scale: 'lots' }, /query parameter scale/],
    [{ scale: '0' }, /query parameter scale/],
    [{ dryRun: 'x' }, /query parameter dryRun/],
  ])('answers 400 for the query %o and changes nothing', async (query, message) => {
    const { handler, calls } = setup();
    const response = await handler(http(body('webhook-scale-up.json'), query));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(message);
    expect(calls).toEqual([]);
  });

  it('answers 401, 400 and 413 before reading anything', async () => {
    const { handler, calls, swarm } = setup();
    expect(
      (await handler(http(body('webhook-scale-up.json'), undefined, 'Bearer wrong-wrong-wrong-wrong')))
        .statusCode,
    ).toBe(401);
    expect((await handler(http('{"version":"4"}'))).statusCode).toBe(400);
    expect((await handler(http('\u0000\u0001'))).statusCode).toBe(400);
    expect((await handler(http(`{"p":"${'x'.repeat(1_100_000)}"}`))).statusCode).toBe(413);
    expect(calls).toEqual([]);
    expect(swarm.nodes.every((n) => n.availability === 'active')).toBe(true);
  });

  it('reads dryRun from the query', () => {
    expect(readNodeQuery({ dryRun: '1' })).toEqual({ override: undefined, dryRun: true });
  });
});
