import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import urlFixture from '../../../events/function-url/scale-service.json' with { type: 'json' };
import { makeHandler } from '../../../functions/scale-service/handler';
import { createLogger } from '../../../shared/adapters/logger';
import { parseSettings } from '../../../shared/config/settings';
import { FakeSwarm, fastRetry } from '../../support/fake-swarm';
import { httpEvent } from '../../support/http-event';

/**
 * A Lambda Function URL hands the function the same payload (version 2.0) as an HTTP API
 * route, with `$default` for the route and `/` for the path: a function answers a request
 * the same whichever way it came in, so httpExposure needs no code of its own.
 */
const TOKEN = 'local-development-token-0001';
// AWS's own type for the event: tsc checks that the fixture has its shape.
const fromUrl: LambdaFunctionURLEvent = urlFixture;

function scaleService() {
  const swarm = new FakeSwarm().add('demo', { replicas: 1, labels: { 'com.df.scaleMax': '3' } });
  const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN, MAX_BODY_BYTES: '65536' });
  const handler = makeHandler({
    settings,
    logger: createLogger({ level: 'error', sink: () => {} }),
    tokens: async () => settings.webhookTokens,
    swarm,
    clock: { now: () => new Date('2026-11-25T12:00:00Z') },
    ...fastRetry,
  });
  return { swarm, handler };
}

const defined = (record: Record<string, string | undefined> = {}) =>
  Object.fromEntries(Object.entries(record).filter((e): e is [string, string] => e[1] !== undefined));

/** The same request through the HTTP API route: same headers, query and body bytes. */
function throughHttpApi(event: LambdaFunctionURLEvent) {
  const body = event.body ?? '';
  return httpEvent({
    body: event.isBase64Encoded ? Buffer.from(body, 'base64') : body,
    headers: defined(event.headers),
    query: defined(event.queryStringParameters),
    path: '/alerts/scale-service',
  });
}

/** The Function URL event with these headers changed (undefined removes one) and this query. */
function variant(
  headers: Record<string, string | undefined>,
  query: Record<string, string> = {},
  body?: { base64: true },
): LambdaFunctionURLEvent {
  const search = new URLSearchParams(query).toString();
  return {
    ...fromUrl,
    headers: defined({ ...fromUrl.headers, ...headers }),
    rawQueryString: search,
    ...(search ? { queryStringParameters: query } : {}),
    ...(body?.base64
      ? { body: Buffer.from(fromUrl.body ?? '').toString('base64'), isBase64Encoded: true }
      : {}),
  };
}

describe('scale-service through a Function URL', () => {
  it.each([
    ['the Alertmanager webhook as it arrives', fromUrl, 200],
    ['the Jenkins-style query', variant({}, { service: 'demo', scale: '1' }), 200],
    ['a dry run asked for in the query', variant({}, { dryRun: 'true' }), 200],
    // Function URLs base64-encode a body whose content type is not text.
    [
      'a base64-encoded body',
      variant({ 'content-type': 'application/octet-stream' }, {}, { base64: true }),
      200,
    ],
    ['no token', variant({ authorization: undefined }), 401],
    ['a wrong token', variant({ authorization: 'Bearer wrong-token-wrong-token' }), 401],
    ['a bad query parameter', variant({}, { scale: 'sideways' }), 400],
  ])('answers %s exactly as through the HTTP API route', async (_, event, status) => {
    const viaUrl = scaleService();
    const viaApi = scaleService();
    const answer = await viaUrl.handler(event);
    expect(answer.statusCode).toBe(status);
    expect(answer).toEqual(await viaApi.handler(throughHttpApi(event)));
    const state = ({ swarm }: typeof viaUrl) => ({
      replicas: swarm.replicas('demo'),
      reads: swarm.reads,
      updates: swarm.updates,
    });
    expect(state(viaUrl)).toEqual(state(viaApi));
  });

  it('scales from the fixture, and reads nothing from Docker for a caller without the token', async () => {
    const scaled = scaleService();
    expect(JSON.parse((await scaled.handler(fromUrl)).body)).toEqual({
      dryRun: false,
      outcomes: [{ kind: 'scaled', alert: '5a4c1c0a9b7e2f31', service: 'demo', from: 1, to: 2 }],
    });
    expect(scaled.swarm.replicas('demo')).toBe(2);
    const refused = scaleService();
    await refused.handler(variant({ authorization: undefined }));
    expect(refused.swarm.reads).toBe(0);
  });
});
