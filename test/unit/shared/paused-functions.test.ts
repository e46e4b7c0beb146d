import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/adapters/logger';
import { parseSettings } from '../../../shared/config/settings';
import { DependencyUnavailableError } from '../../../shared/domain/errors';
import { type Pause, readPause } from '../../../shared/domain/pause';
import { captureEmf } from '../../support/emf';
import { bearer, httpEvent } from '../../support/http-event';

// A handler module builds its default dependencies when loaded (the container's settings, read
// once): node-lifecycle's need these, so they are set before the first handler is loaded.
process.env.CLOUD = 'aws';
process.env.CLUSTER_TAG = 'swarm-reflex:cluster=unit';
const { makeHandler: nodeLifecycleHandler } = await import('../../../functions/node-lifecycle/handler');
const { makeHandler: replaceNodeHandler } = await import('../../../functions/replace-node/handler');
const { makeHandler: scaleNodesHandler } = await import('../../../functions/scale-nodes/handler');
const { makeHandler: scaleServiceHandler } = await import('../../../functions/scale-service/handler');

const TOKEN = 'paused-functions-token-0123';
const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN });
const logger = createLogger({ level: 'error', sink: () => {} });
const fixture = (path: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../events/${path}`, import.meta.url), 'utf8'));

const PAUSE: Pause = {
  since: new Date('2026-11-24T11:00:00Z'),
  by: 'alice@laptop',
  reason: 'database migration until 14:00',
  source: 'swarm',
};

/** A port whose every method fails the test: a paused function reads and changes nothing. */
function untouchable(name: string, touched: string[]): never {
  return new Proxy(
    {},
    {
      get: (_t, key) => {
        if (key === 'then') return undefined;
        return () => {
          touched.push(`${name}.${String(key)}`);
          throw new Error(`${name}.${String(key)} called while paused`);
        };
      },
    },
  ) as never;
}

function remediators(paused: () => Promise<Pause | undefined>) {
  const touched: string[] = [];
  const common = {
    settings,
    logger,
    tokens: async () => settings.webhookTokens,
    paused,
    notifier: untouchable('notifier', touched),
    clock: { now: () => new Date('2026-11-24T12:00:00Z') },
  };
  return {
    touched,
    'scale-service': scaleServiceHandler({ ...common, swarm: untouchable('swarm', touched) }),
    'scale-nodes': scaleNodesHandler({
      ...common,
      swarm: untouchable('swarm', touched),
      tasks: untouchable('tasks', touched),
      group: untouchable('group', touched),
    }),
    'replace-node': replaceNodeHandler({
      ...common,
      swarm: untouchable('swarm', touched),
      cloud: untouchable('cloud', touched),
      settings: { ...settings, clusterTag: { key: 'swarm-reflex:cluster', value: 'prod' } },
    }),
  };
}

const requests = {
  'scale-service': () => fixture('scale-service/webhook-scale-up.json'),
  'scale-nodes': () => fixture('scale-nodes/webhook-scale-up.json'),
  'replace-node': () => fixture('replace-node/webhook-node-down.json'),
} as const;

describe('while paused, every remediating HTTP function answers skipped: paused and changes nothing', () => {
  for (const name of ['scale-service', 'scale-nodes', 'replace-node'] as const) {
    it(`${name}: 200, one skipped/paused outcome with who, why and since; no Docker or AWS call`, async () => {
      const fns = remediators(async () => PAUSE);
      const event = httpEvent({ authorization: bearer(TOKEN), body: JSON.stringify(requests[name]()) });
      const { result: response, emf } = await captureEmf(() => fns[name](event));
      expect(response.statusCode).toBe(200);
      const body = JSON.parse(response.body);
      expect(body.outcomes).toEqual([
        {
          kind: 'skipped',
          reason: 'paused',
          detail: expect.stringMatching(
            /^paused by alice@laptop since 2026-11-24T11:00:00.000Z: database migration until 14:00 .*com\.swarm-reflex\.paused.*nothing was changed$/,
          ),
        },
      ]);
      expect(body.paused).toEqual({
        by: 'alice@laptop',
        since: '2026-11-24T11:00:00.000Z',
        reason: 'database migration until 14:00',
        source: 'swarm',
      });
      expect(fns.touched).toEqual([]);
      expect(JSON.stringify(emf)).toContain('paused');
    });

    it(`${name}: still 401 without a token, and 400 for a malformed body or query, while paused`, async () => {
      let asked = 0;
      const fns = remediators(async () => {
        asked++;
        return PAUSE;
      });
      const body = JSON.stringify(requests[name]());
      expect((await fns[name](httpEvent({ body }))).statusCode).toBe(401);
      const malformed = httpEvent({ authorization: bearer(TOKEN), body: '{"version":"4","alerts":"no"}' });
      expect((await fns[name](malformed)).statusCode).toBe(400);
      const badQuery = httpEvent({ authorization: bearer(TOKEN), body, query: { dryRun: 'perhaps' } });
      expect((await fns[name](badQuery)).statusCode).toBe(400);
      expect(asked).toBe(0);
      expect(fns.touched).toEqual([]);
    });

    it(`${name}: 503 when the pause cannot be read (not knowing is no licence to act)`, async () => {
      const fns = remediators(async () => {
        throw new DependencyUnavailableError('aws', 'reading parameters: AWS answered ThrottlingException');
      });
      const event = httpEvent({ authorization: bearer(TOKEN), body: JSON.stringify(requests[name]()) });
      expect((await fns[name](event)).statusCode).toBe(503);
      expect(fns.touched).toEqual([]);
    });
  }

  it('an unreadable pause value (not JSON, huge) pauses, and says what is wrong with it', async () => {
    for (const value of ['stop!', `{"paused": true, "reason": "${'x'.repeat(5_000)}"}`]) {
      const pause = readPause(value, 'ssm');
      const fns = remediators(async () => pause);
      const event = httpEvent({
        authorization: bearer(TOKEN),
        body: JSON.stringify(requests['scale-service']()),
      });
      const body = JSON.parse((await fns['scale-service'](event)).body);
      expect(body.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'paused' });
      expect(body.outcomes[0].detail).toContain('unreadable pause value');
      expect(body.outcomes[0].detail.length).toBeLessThan(400);
      expect(fns.touched).toEqual([]);
    }
  });

  it('a pause whose since lies in the future pauses all the same', async () => {
    const pause = readPause(
      JSON.stringify({ paused: true, since: '2099-01-01T00:00:00Z', by: 'bob@x', reason: 'later?' }),
      'ssm',
    );
    const fns = remediators(async () => pause);
    const event = httpEvent({
      authorization: bearer(TOKEN),
      body: JSON.stringify(requests['replace-node']()),
    });
    const body = JSON.parse((await fns['replace-node'](event)).body);
    expect(body.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'paused' });
    expect(body.paused.since).toBe('2099-01-01T00:00:00.000Z');
  });
});

describe('node-lifecycle while paused', () => {
  function lifecycle(paused: () => Promise<Pause | undefined>) {
    const touched: string[] = [];
    const handler = nodeLifecycleHandler({
      logger,
      dryRun: false,
      paused,
      swarm: untouchable('swarm', touched),
      tasks: untouchable('tasks', touched),
      instances: untouchable('instances', touched),
      lifecycle: untouchable('lifecycle', touched),
      notifier: untouchable('notifier', touched),
      clock: { now: () => new Date('2026-11-24T12:00:00Z') },
      settings: {
        clusterTag: { key: 'swarm-reflex:cluster', value: 'prod' },
        lifecycleGroups: ['swarm-reflex-prod-workers'],
        lifecycleHooks: ['swarm-reflex-drain', 'swarm-reflex-join'],
        lifecycleDrainTimeoutSeconds: 600,
        launchJoinTimeoutSeconds: 900,
        onRebalance: 'notify',
        scheduledDrainLeadSeconds: 3_600,
        updateAttempts: 3,
      },
    });
    return { handler, touched };
  }

  for (const event of ['terminate-hook.json', 'spot-interruption.json', 'schedule.json', 'reconcile.json']) {
    it(`answers skipped/paused to ${event} and reads or changes nothing (events and the reconcile pass)`, async () => {
      const { handler, touched } = lifecycle(async () => PAUSE);
      const result = await handler(fixture(`node-lifecycle/${event}`));
      expect(result.outcomes).toEqual([
        expect.objectContaining({ subject: 'cluster', kind: 'skipped', reason: 'paused' }),
      ]);
      expect(result.outcomes[0]?.detail).toContain('alice@laptop');
      expect(touched).toEqual([]);
    });
  }

  it('still fails the invocation for an event it does not accept, while paused', async () => {
    let asked = 0;
    const { handler } = lifecycle(async () => {
      asked++;
      return PAUSE;
    });
    await expect(handler({ detail: 'not an event' })).rejects.toThrow();
    expect(asked).toBe(0);
  });

  it('fails the invocation when the pause cannot be read (Lambda retries)', async () => {
    const { handler, touched } = lifecycle(async () => {
      throw new DependencyUnavailableError('docker', 'reading the swarm: no manager answered');
    });
    await expect(handler(fixture('node-lifecycle/schedule.json'))).rejects.toThrow(/no manager answered/);
    expect(touched).toEqual([]);
  });
});
