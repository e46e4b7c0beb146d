import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/adapters/logger';
import { ValidationError } from '../../../shared/domain/errors';
import { httpEdge } from '../../../shared/edge/http';
import { authenticate } from '../../../shared/edge/middleware/authenticate';
import { countOutcomes } from '../../../shared/edge/middleware/count-outcomes';
import { httpResponse } from '../../../shared/edge/middleware/http-response';
import { invocationContext, localContext } from '../../../shared/edge/middleware/invocation-context';
import { boundedJsonBody } from '../../../shared/edge/middleware/json-body';
import { edgeState } from '../../../shared/edge/middleware/state';
import { validateEvent } from '../../../shared/edge/middleware/validate-event';
import { captureEmf } from '../../support/emf';
import { bearer, httpEvent } from '../../support/http-event';

const request = (body: string | Uint8Array, token: string) =>
  httpEvent({ body, authorization: bearer(token) });

const TOKEN = 'middleware-test-token-0123';

function logger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger({ level: 'debug', sink: (l) => lines.push(JSON.parse(l)) }) };
}

describe('edge middlewares: options are checked when the pipeline is built', () => {
  it.each([
    [
      'invocationContext',
      () => invocationContext({ name: 'Bad Name', logger: logger().logger }),
      /option name/,
    ],
    ['invocationContext', () => invocationContext({ name: 'x', logger: {} as never }), /option logger/],
    ['boundedJsonBody', () => boundedJsonBody({ maxBytes: 0 }), /option maxBytes/],
    ['boundedJsonBody', () => boundedJsonBody({ maxBytes: 1.5 }), /option maxBytes/],
    ['boundedJsonBody', () => boundedJsonBody({ maxBytes: 11 * 1024 * 1024 }), /option maxBytes/],
    ['authenticate', () => authenticate({ tokens: ['a'] as never }), /option tokens must be a function/],
    ['validateEvent', () => validateEvent({ parse: 'x' as never, into: new WeakMap() }), /option parse/],
    [
      'validateEvent',
      () => validateEvent({ parse: () => ({ input: 1 }), into: new Map() as never }),
      /option into/,
    ],
    ['countOutcomes', () => countOutcomes({ name: '', outcomes: new WeakMap() }), /option name/],
    ['httpResponse', () => httpResponse({ extra: 1 } as never), /httpResponse/],
  ])('%s refuses a bad option, naming it', (_name, build, message) => {
    expect(build).toThrow(message);
  });
});

/** A pipeline of the middlewares under test around a handler that echoes what the edge gave it. */
function pipeline(maxBytes = 1_024) {
  const { lines, logger: log } = logger();
  const inputs = new WeakMap<object, { n: number }>();
  const outcomes = new WeakMap<object, readonly { kind: string }[]>();
  let handled = 0;
  const handler = middy()
    .use(invocationContext({ name: 'mw-test', logger: log }))
    .use(httpResponse())
    .use(countOutcomes({ name: 'mw-test', outcomes }))
    .use(authenticate({ tokens: async () => [TOKEN] }))
    .use(boundedJsonBody({ maxBytes }))
    .use(
      validateEvent({
        parse: (payload) => {
          if (
            typeof payload !== 'object' ||
            payload === null ||
            !('n' in payload) ||
            typeof payload.n !== 'number'
          )
            throw new ValidationError('expected {"n": <number>}');
          return { input: { n: payload.n }, logKeys: { n: payload.n } };
        },
        into: inputs,
      }),
    )
    .handler(async (_event: unknown, context) => {
      handled += 1;
      const result = { outcomes: [{ kind: 'echoed' }], n: inputs.get(context)?.n };
      outcomes.set(context, result.outcomes);
      edgeState(context).log.info('decision', { audit: true, kind: 'echoed' });
      return result;
    });
  return { handler, lines, handled: () => handled };
}

describe('edge middlewares in order', () => {
  it('answers 200 with the result, one EMF line and the request id on every line', async () => {
    const p = pipeline();
    const context = localContext('mw-test');
    const { result, emf } = await captureEmf(() => p.handler(request('{"n": 7}', TOKEN), context));
    expect(result).toMatchObject({ statusCode: 200 });
    expect(JSON.parse(result.body)).toEqual({ outcomes: [{ kind: 'echoed' }], n: 7 });
    expect(emf).toEqual([
      expect.objectContaining({ function: 'mw-test', kind: 'echoed', reason: 'none', outcomes: 1 }),
    ]);
    expect(p.lines.length).toBeGreaterThan(0);
    for (const line of p.lines) {
      expect(line).toMatchObject({ function_request_id: context.awsRequestId, function: 'mw-test', n: 7 });
    }
  });

  it('refuses an unknown caller before the body is read: 401, the handler never runs', async () => {
    const p = pipeline();
    const answer = await p.handler(
      request('not even json', 'wrong-token-wrong-token'),
      localContext('mw-test'),
    );
    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'AuthError' });
    expect(p.handled()).toBe(0);
  });

  it('bounds the body on its bytes before parsing it: 413, then 400 for bad UTF-8, JSON or shape', async () => {
    const p = pipeline(64);
    const big = await p.handler(
      request(JSON.stringify({ n: 1, pad: 'x'.repeat(100) }), TOKEN),
      localContext('mw-test'),
    );
    expect(big.statusCode).toBe(413);
    const utf8 = await p.handler(request(new Uint8Array([0xff, 0xfe]), TOKEN), localContext('mw-test'));
    expect([utf8.statusCode, JSON.parse(utf8.body).message]).toEqual([400, 'body is not valid UTF-8']);
    expect((await p.handler(request('{', TOKEN), localContext('mw-test'))).statusCode).toBe(400);
    expect(
      JSON.parse((await p.handler(request('{"n":"7"}', TOKEN), localContext('mw-test'))).body).message,
    ).toBe('expected {"n": <number>}');
    expect(p.handled()).toBe(0);
  });

  it('takes a direct invocation without a token; its 5xx throws so Lambda retries it', async () => {
    const p = pipeline();
    const ok = await p.handler({ n: 3 }, localContext('mw-test'));
    expect(JSON.parse(ok.body)).toMatchObject({ n: 3 });
    const failing = middy()
      .use(invocationContext({ name: 'mw-test', logger: logger().logger }))
      .use(httpResponse())
      .handler(async () => {
        throw new Error('boom');
      });
    await expect(failing({ n: 1 }, localContext('mw-test'))).rejects.toThrow('internal error');
    const overHttp = await failing(request('{}', TOKEN), localContext('mw-test'));
    expect([overHttp.statusCode, JSON.parse(overHttp.body)]).toEqual([
      500,
      { error: 'InternalError', message: 'internal error' },
    ]);
  });

  it('writes audit lines even when the log level would filter them', async () => {
    const lines: Record<string, unknown>[] = [];
    const quiet = createLogger({ level: 'error', sink: (l) => lines.push(JSON.parse(l)) });
    const log = quiet.forInvocation(localContext('x'), { function: 'x' });
    log.info('not an audit line', {});
    log.info('decision', { audit: true, kind: 'scaled', service: 'web' });
    expect(lines).toEqual([
      expect.objectContaining({
        message: 'decision',
        audit: true,
        kind: 'scaled',
        swarmService: 'web',
        service: 'swarm-reflex',
      }),
    ]);
  });

  it('counts the cold start once per container, not once per invocation', () => {
    const lines: Record<string, unknown>[] = [];
    const root = createLogger({ sink: (l) => lines.push(JSON.parse(l)) });
    root.forInvocation(localContext('x'), {}).info('first');
    root.forInvocation(localContext('x'), {}).info('second');
    expect(lines.map((l) => l.cold_start)).toEqual([true, false]);
  });

  it("puts the invocation's request id on lines of loggers made before it (the notifier's, the pool's)", async () => {
    const lines: Record<string, unknown>[] = [];
    const root = createLogger({ sink: (l) => lines.push(JSON.parse(l)) });
    const made = root.child({ function: 'notify' });
    const edge = httpEdge<{ n: number }, { kind: string }>({
      name: 'mw-test',
      deps: { settings: { maxBodyBytes: 1_024 }, logger: root, tokens: async () => [TOKEN] },
      parse: () => ({ input: { n: 1 } }),
      paused: false,
      handle: async () => {
        made.info('chat delivered');
        return { outcomes: [] };
      },
    });
    const context = localContext('mw-test');
    await captureEmf(() => edge({}, context));
    made.info('between invocations');
    expect(lines.find((l) => l.message === 'chat delivered')).toMatchObject({
      function: 'notify',
      function_request_id: context.awsRequestId,
    });
    expect(lines.find((l) => l.message === 'between invocations')?.function_request_id).toBeUndefined();
  });
});
