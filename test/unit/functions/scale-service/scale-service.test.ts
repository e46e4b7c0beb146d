import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cooldownUntil,
  decideReplicas,
  decideScale,
  readPolicy,
} from '../../../../functions/scale-service/decide';
import {
  parseScale,
  type ScaleOutcome,
  scaleService,
} from '../../../../functions/scale-service/scale-service';
import { createLogger } from '../../../../shared/adapters/logger';
import type { AlertmanagerWebhook } from '../../../../shared/domain/alerts';
import { DependencyUnavailableError } from '../../../../shared/domain/errors';
import { LAST_SCALE_LABEL, SCALED_AT_LABEL } from '../../../../shared/domain/labels';
import type { ServiceState } from '../../../../shared/domain/swarm';
import { FakeSwarm, fastRetry } from '../../../support/fake-swarm';

const now = new Date('2026-11-24T12:00:00.000Z');
const log = createLogger({ level: 'error', sink: () => {} });

function webhook(
  alerts: Array<{ labels: Record<string, string>; status?: 'firing' | 'resolved' }>,
): AlertmanagerWebhook {
  return {
    version: '4',
    groupKey: 'test',
    status: 'firing',
    receiver: 'scale-service',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: '',
    alerts: alerts.map((a, i) => ({
      status: a.status ?? 'firing',
      labels: a.labels,
      annotations: {},
      fingerprint: `f${i}`,
    })),
  };
}

function deps(swarm: FakeSwarm, cooldown = 60) {
  return {
    swarm,
    clock: { now: () => now },
    settings: { scaleCooldownSeconds: cooldown, updateAttempts: 30 },
    ...fastRetry,
  };
}

function state(replicas: number, labels: Record<string, string>): ServiceState {
  return {
    id: 'x',
    name: 'web',
    version: 1,
    mode: 'replicated',
    replicas,
    labels,
    updatedAt: new Date(0),
    spec: {},
  };
}

async function run(swarm: FakeSwarm, alerts: Parameters<typeof webhook>[0], dryRun = false) {
  return scaleService(deps(swarm), { webhook: webhook(alerts), overrides: {}, dryRun, log });
}

describe('parseScale', () => {
  it('reads up, down and signed integers, and nothing else', () => {
    expect(parseScale('up')).toEqual({ kind: 'step', direction: 'up' });
    expect(parseScale('DOWN')).toEqual({ kind: 'step', direction: 'down' });
    expect(parseScale('1')).toEqual({ kind: 'delta', delta: 1 });
    expect(parseScale('+2')).toEqual({ kind: 'delta', delta: 2 });
    expect(parseScale('-1')).toEqual({ kind: 'delta', delta: -1 });
    for (const bad of ['0', '+0', 'sideways', '1.5', '1e3', '', ' ', '--1', '99999', 'up;rm', '0x10']) {
      expect(parseScale(bad), bad).toBeUndefined();
    }
  });
});

describe('readPolicy', () => {
  it('treats a service without com.df.scaleMax as not managed', () => {
    expect(readPolicy({ 'com.df.scaleMin': '2' }, 60)).toEqual({ kind: 'not-managed' });
  });

  it('applies the defaults: min 1, steps 1, the cooldown setting', () => {
    expect(readPolicy({ 'com.df.scaleMax': '5' }, 90)).toEqual({
      kind: 'policy',
      policy: { min: 1, max: 5, upBy: 1, downBy: 1, cooldownSeconds: 90 },
    });
  });

  it('refuses non-numeric, negative, fractional and inverted bounds with the label named', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'com.df.scaleMax': 'ten' }, /com\.df\.scaleMax="ten"/],
      [{ 'com.df.scaleMax': '5', 'com.df.scaleMin': '-1' }, /com\.df\.scaleMin/],
      [{ 'com.df.scaleMax': '5', 'com.df.scaleUpBy': '1.5' }, /com\.df\.scaleUpBy/],
      [{ 'com.df.scaleMax': '5', 'com.df.scaleDownBy': '0' }, /com\.df\.scaleDownBy/],
      [{ 'com.df.scaleMax': '0' }, /com\.df\.scaleMax/],
      [{ 'com.df.scaleMax': '3', 'com.df.scaleMin': '4' }, /scaleMin \(4\) is above com\.df\.scaleMax \(3\)/],
      [{ 'com.df.scaleMax': '3', 'com.df.scaleCooldown': '0' }, /com\.df\.scaleCooldown/],
    ];
    for (const [labels, message] of cases) {
      const result = readPolicy(labels, 60);
      expect(result.kind, JSON.stringify(labels)).toBe('invalid');
      if (result.kind === 'invalid') expect(result.detail).toMatch(message);
    }
  });
});

describe('decideReplicas', () => {
  it('keeps replicas within [min, max] for any start inside the bounds and any sequence of steps', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(
          fc.integer({ min: -20, max: 20 }).filter((d) => d !== 0),
          { maxLength: 30 },
        ),
        fc.nat(),
        (a, b, deltas, seed) => {
          const min = Math.min(a, b);
          const max = Math.max(a, b, 1);
          let current = min + (seed % (max - min + 1));
          for (const delta of deltas) {
            const step = decideReplicas(current, delta, { min, max });
            if (step.kind === 'scale') {
              expect(step.to).not.toBe(current);
              expect(Math.sign(step.to - current)).toBe(Math.sign(delta));
              current = step.to;
            }
            expect(current).toBeGreaterThanOrEqual(min);
            expect(current).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });

  it('refuses to scale past com.df.scaleMax and below com.df.scaleMin', () => {
    expect(decideReplicas(5, 1, { min: 1, max: 5 })).toEqual({ kind: 'at-max' });
    expect(decideReplicas(1, -1, { min: 1, max: 5 })).toEqual({ kind: 'at-min' });
    expect(decideReplicas(4, 3, { min: 1, max: 5 })).toEqual({ kind: 'scale', to: 5 });
    expect(decideReplicas(2, -3, { min: 1, max: 5 })).toEqual({ kind: 'scale', to: 1 });
  });

  it('only moves a service that is outside its bounds towards them', () => {
    expect(decideReplicas(9, 1, { min: 1, max: 5 })).toEqual({ kind: 'at-max' });
    expect(decideReplicas(9, -1, { min: 1, max: 5 })).toEqual({ kind: 'scale', to: 5 });
    expect(decideReplicas(0, -1, { min: 1, max: 5 })).toEqual({ kind: 'at-min' });
  });
});

describe('cooldownUntil', () => {
  it('is in force for the cooldown after the last scale, and not for unreadable or future times', () => {
    const at = (iso: string) => ({ [SCALED_AT_LABEL]: iso });
    expect(cooldownUntil(at('2026-11-24T11:59:30.000Z'), 60, now)?.toISOString()).toBe(
      '2026-11-24T12:00:30.000Z',
    );
    expect(cooldownUntil(at('2026-11-24T11:58:59.000Z'), 60, now)).toBeUndefined();
    expect(cooldownUntil(at('yesterday-ish'), 60, now)).toBeUndefined();
    expect(cooldownUntil(at('2027-01-01T00:00:00.000Z'), 60, now)).toBeUndefined();
    expect(cooldownUntil({}, 60, now)).toBeUndefined();
  });
});

describe('decideScale', () => {
  const managed = {
    'com.df.scaleMax': '6',
    'com.df.scaleMin': '2',
    'com.df.scaleUpBy': '2',
    'com.df.scaleDownBy': '1',
  };

  it('moves by the service step labels for up and down', () => {
    expect(decideScale(state(3, managed), [{ kind: 'step', direction: 'up' }], now, 60)).toEqual({
      kind: 'scale',
      from: 3,
      to: 5,
    });
    expect(decideScale(state(3, managed), [{ kind: 'step', direction: 'down' }], now, 60)).toEqual({
      kind: 'scale',
      from: 3,
      to: 2,
    });
  });

  it('moves by the exact delta of a signed scale value, clamped', () => {
    expect(decideScale(state(3, managed), [{ kind: 'delta', delta: 1 }], now, 60)).toEqual({
      kind: 'scale',
      from: 3,
      to: 4,
    });
    expect(decideScale(state(3, managed), [{ kind: 'delta', delta: 10 }], now, 60)).toEqual({
      kind: 'scale',
      from: 3,
      to: 6,
    });
  });

  it('makes one decision from several alerts in one direction: the largest step', () => {
    const d = decideScale(
      state(2, managed),
      [
        { kind: 'delta', delta: 1 },
        { kind: 'step', direction: 'up' },
        { kind: 'delta', delta: 1 },
      ],
      now,
      60,
    );
    expect(d).toEqual({ kind: 'scale', from: 2, to: 4 });
  });

  it('ignores global-mode services', () => {
    const global: ServiceState = { ...state(0, managed), mode: 'global', replicas: undefined };
    expect(decideScale(global, [{ kind: 'delta', delta: 1 }], now, 60)).toMatchObject({
      kind: 'ignore',
      reason: 'global-mode',
    });
  });

  it('refuses during the cooldown written by the last scale', () => {
    const labels = { ...managed, [SCALED_AT_LABEL]: new Date(now.getTime() - 10_000).toISOString() };
    expect(decideScale(state(3, labels), [{ kind: 'delta', delta: 1 }], now, 60)).toMatchObject({
      kind: 'skip',
      reason: 'cooldown',
    });
    const custom = { ...labels, 'com.df.scaleCooldown': '5' };
    expect(decideScale(state(3, custom), [{ kind: 'delta', delta: 1 }], now, 60)).toMatchObject({
      kind: 'scale',
    });
  });
});

describe('scaleService', () => {
  const opted = { 'com.df.scaleMax': '4' };

  it('scales up one step and writes the cooldown label in the same update', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 2, labels: opted });
    const result = await run(swarm, [{ labels: { service: 'web', scale: 'up' } }]);
    expect(result.outcomes).toEqual([{ kind: 'scaled', alert: 'f0', service: 'web', from: 2, to: 3 }]);
    expect(swarm.replicas('web')).toBe(3);
    expect(swarm.updates).toBe(1);
    expect(swarm.services.get('web')?.labels[SCALED_AT_LABEL]).toBe(now.toISOString());
  });

  it('never touches a service without com.df.scaleMax, whatever the alerts say', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            scale: fc.constantFrom('up', 'down', '1', '-1', '+3', '-7'),
            status: fc.constantFrom('firing' as const, 'resolved' as const),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        fc.integer({ min: 0, max: 20 }),
        async (alerts, replicas) => {
          const swarm = new FakeSwarm().add('web', { replicas, labels: { 'com.df.scaleMin': '0' } });
          const result = await run(
            swarm,
            alerts.map((a) => ({ status: a.status, labels: { service: 'web', scale: a.scale } })),
          );
          expect(swarm.updates).toBe(0);
          expect(swarm.replicas('web')).toBe(replicas);
          for (const o of result.outcomes) expect(o.kind).not.toBe('scaled');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps replicas within bounds over any sequence of deliveries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom('up', 'down', '2', '-3', '+1'), { minLength: 1, maxLength: 15 }),
        async (min, span, words) => {
          const max = min + span;
          const swarm = new FakeSwarm().add('web', {
            replicas: min,
            labels: {
              'com.df.scaleMax': String(max),
              'com.df.scaleMin': String(min),
              'com.df.scaleCooldown': '5',
            },
          });
          let t = now.getTime();
          for (const word of words) {
            t += 10_000; // past each cooldown
            await scaleService(
              { ...deps(swarm), clock: { now: () => new Date(t) } },
              {
                webhook: webhook([{ labels: { service: 'web', scale: word } }]),
                overrides: {},
                dryRun: false,
                log,
              },
            );
            const r = swarm.replicas('web') ?? -1;
            expect(r).toBeGreaterThanOrEqual(min);
            expect(r).toBeLessThanOrEqual(max);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('acts on firing alerts only', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 2, labels: opted });
    const result = await run(swarm, [{ status: 'resolved', labels: { service: 'web', scale: 'up' } }]);
    expect(result.outcomes).toEqual([
      { kind: 'ignored', alert: 'f0', reason: 'resolved', detail: 'only firing alerts are acted on' },
    ]);
    expect(swarm.reads).toBe(0);
  });

  it('skips up and down together as conflicting alerts, without reading the service', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 2, labels: opted });
    const result = await run(swarm, [
      { labels: { service: 'web', scale: 'up' } },
      { labels: { service: 'web', scale: '-1' } },
    ]);
    expect(result.outcomes.map((o) => o.kind === 'skipped' && o.reason)).toEqual([
      'conflicting-alerts',
      'conflicting-alerts',
    ]);
    expect(swarm.updates).toBe(0);
  });

  it('makes one decision and one update for several alerts for one service', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const result = await run(swarm, [
      { labels: { service: 'web', scale: 'up' } },
      { labels: { service: 'web', scale: 'up' } },
      { labels: { service: 'web', scale: '1' } },
    ]);
    expect(swarm.updates).toBe(1);
    expect(swarm.reads).toBe(1);
    expect(swarm.replicas('web')).toBe(2);
    expect(result.outcomes).toHaveLength(3);
    expect(new Set(result.outcomes.map((o) => o.kind))).toEqual(new Set(['scaled']));
  });

  it('says why it did not act on each bad alert, and acts on the good ones', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const result = await run(swarm, [
      { labels: { scale: 'up' } },
      { labels: { service: 'web' } },
      { labels: { service: 'web', scale: 'sideways' } },
      { labels: { service: '../etc', scale: 'up' } },
      { labels: { service: 'a%2Fb', scale: 'up' } },
      { labels: { service: 'web\u0000x', scale: 'up' } },
      { labels: { service: 'x'.repeat(300), scale: 'up' } },
      { labels: { service: 'ghost', scale: 'up' } },
      { labels: { service: 'web', scale: 'up' } },
    ]);
    const reasons = result.outcomes.map((o) => ('reason' in o ? o.reason : o.kind));
    expect(reasons).toEqual([
      'no-service-label',
      'no-scale-label',
      'invalid-scale-label',
      'invalid-service-label',
      'invalid-service-label',
      'invalid-service-label',
      'invalid-service-label',
      'not-found',
      'scaled',
    ]);
    const tooLong = result.outcomes[6] as Extract<ScaleOutcome, { kind: 'ignored' }>;
    expect(tooLong.detail.length).toBeLessThan(200);
  });

  it('applies URL overrides of service and scale to every alert', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const result = await scaleService(deps(swarm), {
      webhook: webhook([{ labels: { alertname: 'High' } }]),
      overrides: { service: 'web', scale: { kind: 'delta', delta: 2 } },
      dryRun: false,
      log,
    });
    expect(result.outcomes).toEqual([{ kind: 'scaled', alert: 'f0', service: 'web', from: 1, to: 3 }]);
  });

  it('returns the plan and changes nothing on a dry run', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const result = await run(swarm, [{ labels: { service: 'web', scale: 'up' } }], true);
    expect(result).toMatchObject({
      dryRun: true,
      outcomes: [{ kind: 'skipped', reason: 'dry-run', from: 1, to: 2 }],
    });
    expect(swarm.updates).toBe(0);
  });

  it('scales exactly one step when the same alert arrives 20 times at once', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => run(swarm, [{ labels: { service: 'web', scale: 'up' } }])),
    );
    const kinds = results.flatMap((r) => r.outcomes.map((o) => ('reason' in o ? o.reason : o.kind)));
    expect(kinds.filter((k) => k === 'scaled')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'cooldown')).toHaveLength(19);
    expect(swarm.replicas('web')).toBe(2);
    expect(swarm.conflicts).toBeGreaterThan(0);
  });

  it('says scaled when Docker applied its update but the answer was lost, and does not update again', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const update = swarm.updateService.bind(swarm);
    let lost = 1;
    swarm.updateService = async (state, change) => {
      await update(state, change);
      if (lost-- > 0) throw new DependencyUnavailableError('docker', 'socket hang up');
    };
    const result = await run(swarm, [{ labels: { service: 'web', scale: 'up' } }]);
    expect(result.outcomes).toEqual([{ kind: 'scaled', alert: 'f0', service: 'web', from: 1, to: 2 }]);
    expect(swarm.updates).toBe(1);
    expect(swarm.replicas('web')).toBe(2);
  });

  it('decides again when an update failed before Docker applied it', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    const update = swarm.updateService.bind(swarm);
    let failures = 1;
    swarm.updateService = async (state, change) => {
      if (failures-- > 0) throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
      await update(state, change);
    };
    const result = await run(swarm, [{ labels: { service: 'web', scale: 'up' } }]);
    expect(result.outcomes[0]).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
    expect(swarm.updates).toBe(1);
  });

  it('gives up with a retryable error when conflicts do not stop', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
    swarm.updateService = async () => {
      const { VersionConflictError } = await import('../../../../shared/domain/errors');
      throw new VersionConflictError('update out of sequence');
    };
    await expect(
      scaleService(
        { ...deps(swarm), settings: { scaleCooldownSeconds: 60, updateAttempts: 3 } },
        {
          webhook: webhook([{ labels: { service: 'web', scale: 'up' } }]),
          overrides: {},
          dryRun: false,
          log,
        },
      ),
    ).rejects.toMatchObject({ name: 'VersionConflictError', retryable: true });
  });
});

describe('scaleService: the guards around the decision', () => {
  const opted = { 'com.df.scaleMax': '4' };

  it('never updates a service in global mode, and says it ignored it', async () => {
    const swarm = new FakeSwarm().add('agent', { mode: 'global', labels: opted });
    const result = await run(swarm, [{ labels: { service: 'agent', scale: 'up' } }]);
    expect(result.outcomes).toEqual([
      {
        kind: 'ignored',
        alert: 'f0',
        service: 'agent',
        reason: 'global-mode',
        detail: 'service agent is not in replicated mode',
      },
    ]);
    expect(swarm.updates).toBe(0);
  });

  it('treats the words up and down in one request as conflicting, in either order', async () => {
    for (const words of [
      ['up', 'down'],
      ['down', 'up'],
      ['down', '+1'],
    ]) {
      const swarm = new FakeSwarm().add('web', { replicas: 2, labels: opted });
      const result = await run(
        swarm,
        words.map((scale) => ({ labels: { service: 'web', scale } })),
      );
      expect(
        result.outcomes.map((o) => o.kind === 'skipped' && o.reason),
        words.join(','),
      ).toEqual(['conflicting-alerts', 'conflicting-alerts']);
      expect(swarm.updates).toBe(0);
    }
  });

  it('counts an empty service label as no service label', async () => {
    const swarm = new FakeSwarm().add('web', { replicas: 2, labels: opted });
    const result = await run(swarm, [{ labels: { service: '', scale: 'up' } }]);
    expect(result.outcomes).toMatchObject([{ kind: 'ignored', reason: 'no-service-label' }]);
  });

  it('reads at most 4 services at once, however many one request names', async () => {
    const swarm = new FakeSwarm();
    for (let i = 0; i < 10; i++) swarm.add(`web${i}`, { replicas: 1, labels: opted });
    const inspect = swarm.inspectService.bind(swarm);
    let inFlight = 0;
    let most = 0;
    swarm.inspectService = async (name) => {
      most = Math.max(most, ++inFlight);
      try {
        return await inspect(name);
      } finally {
        inFlight--;
      }
    };
    const result = await run(
      swarm,
      Array.from({ length: 10 }, (_, i) => ({ labels: { service: `web${i}`, scale: 'up' } })),
    );
    expect(result.outcomes.filter((o) => o.kind === 'scaled')).toHaveLength(10);
    expect(most).toBe(4);
  });
});

describe('scaleService: an update whose answer was lost', () => {
  const opted = { 'com.df.scaleMax': '4' };

  it('is recognised only by both labels it wrote: after another write it decides again', async () => {
    for (const overwritten of [SCALED_AT_LABEL, LAST_SCALE_LABEL]) {
      const swarm = new FakeSwarm().add('web', { replicas: 1, labels: opted });
      const update = swarm.updateService.bind(swarm);
      let lost = 1;
      swarm.updateService = async (state, change) => {
        await update(state, change);
        if (lost-- > 0) {
          // Another writer changes one of the labels before the re-read.
          const labels = swarm.services.get('web')?.labels ?? {};
          labels[overwritten] =
            overwritten === SCALED_AT_LABEL ? new Date(now.getTime() - 1_000).toISOString() : '5->6';
          throw new DependencyUnavailableError('docker', 'socket hang up');
        }
      };
      const result = await run(swarm, [{ labels: { service: 'web', scale: 'up' } }]);
      expect(result.outcomes, overwritten).toMatchObject([{ kind: 'skipped', reason: 'cooldown' }]);
    }
  });
});
