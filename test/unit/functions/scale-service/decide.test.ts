import { describe, expect, it } from 'vitest';
import {
  cooldownUntil,
  decideReplicas,
  decideScale,
  readPolicy,
} from '../../../../functions/scale-service/decide';
import { SCALED_AT_LABEL } from '../../../../shared/domain/labels';
import type { ServiceState } from '../../../../shared/domain/swarm';
import { FakeSwarm } from '../../../support/fake-swarm';

// The safety guards of one scaling decision, each pinned at its edge: the opt-in and the
// range of every com.df.* label, the bounds, the cooldown and the service mode.

const now = new Date('2026-11-24T12:00:00.000Z');
const up = [{ kind: 'delta' as const, delta: 1 }];

/** A replicated service as the swarm reads it. */
async function service(labels: Record<string, string>, replicas = 2): Promise<ServiceState> {
  const state = await new FakeSwarm().add('web', { replicas, labels }).inspectService('web');
  if (!state) throw new Error('no service web');
  return state;
}

const kindOf = (labels: Record<string, string>) => readPolicy(labels, 60).kind;

describe('readPolicy: every com.df.* label is a whole number within its range', () => {
  it('accepts each bound at the edge of its range', () => {
    expect(
      readPolicy(
        {
          'com.df.scaleMax': '10000',
          'com.df.scaleMin': '0',
          'com.df.scaleUpBy': '10000',
          'com.df.scaleDownBy': '10000',
          'com.df.scaleCooldown': '86400',
        },
        60,
      ),
    ).toEqual({
      kind: 'policy',
      policy: { min: 0, max: 10_000, upBy: 10_000, downBy: 10_000, cooldownSeconds: 86_400 },
    });
    expect(readPolicy({ 'com.df.scaleMax': '1', 'com.df.scaleCooldown': '5' }, 60)).toMatchObject({
      kind: 'policy',
      policy: { max: 1, cooldownSeconds: 5 },
    });
  });

  it('refuses a value one past the top of its range', () => {
    expect(kindOf({ 'com.df.scaleMax': '10001' })).toBe('invalid');
    expect(kindOf({ 'com.df.scaleMax': '10000', 'com.df.scaleMin': '10001' })).toBe('invalid');
    expect(kindOf({ 'com.df.scaleMax': '5', 'com.df.scaleUpBy': '10001' })).toBe('invalid');
    expect(kindOf({ 'com.df.scaleMax': '5', 'com.df.scaleDownBy': '10001' })).toBe('invalid');
    expect(kindOf({ 'com.df.scaleMax': '5', 'com.df.scaleCooldown': '86401' })).toBe('invalid');
    expect(kindOf({ 'com.df.scaleMax': '5', 'com.df.scaleCooldown': '4' })).toBe('invalid');
  });

  it('reads a value of several digits, and only digits: no sign, unit, prefix or suffix', () => {
    expect(readPolicy({ 'com.df.scaleMax': '12' }, 60)).toMatchObject({ policy: { max: 12 } });
    for (const bad of ['5x', 'x5', '5 replicas', 'max 5', '+5', '5.0', '1e3', '0x10', '']) {
      expect(kindOf({ 'com.df.scaleMax': bad }), bad).toBe('invalid');
    }
  });

  it('tolerates whitespace around a value (labels written from compose files)', () => {
    expect(readPolicy({ 'com.df.scaleMax': ' 5 ', 'com.df.scaleMin': '2\n' }, 60)).toMatchObject({
      kind: 'policy',
      policy: { min: 2, max: 5 },
    });
  });

  it('accepts scaleMin equal to scaleMax (a pinned count), refuses it above', () => {
    expect(readPolicy({ 'com.df.scaleMax': '3', 'com.df.scaleMin': '3' }, 60)).toMatchObject({
      kind: 'policy',
      policy: { min: 3, max: 3 },
    });
    expect(kindOf({ 'com.df.scaleMax': '3', 'com.df.scaleMin': '4' })).toBe('invalid');
  });

  it('compares scaleMin with scaleMax only when both are valid: the detail names the label that is wrong', () => {
    expect(readPolicy({ 'com.df.scaleMax': '3', 'com.df.scaleMin': '20000' }, 60)).toEqual({
      kind: 'invalid',
      detail: 'com.df.scaleMin="20000" must be a whole number from 0 to 10000',
    });
  });
});

describe('decideReplicas: never an update that changes nothing', () => {
  it('answers a zero change with no scale, inside the bounds or at them', () => {
    for (const current of [1, 3, 5]) {
      expect(decideReplicas(current, 0, { min: 1, max: 5 }).kind, String(current)).not.toBe('scale');
    }
  });
});

describe('cooldownUntil: the cooldown and the clock skew it tolerates', () => {
  const scaledAt = (ms: number) => ({ [SCALED_AT_LABEL]: new Date(now.getTime() + ms).toISOString() });

  it('ends exactly cooldownSeconds after the last scale', () => {
    expect(cooldownUntil(scaledAt(-59_999), 60, now)?.getTime()).toBe(now.getTime() + 1);
    expect(cooldownUntil(scaledAt(-60_000), 60, now)).toBeUndefined();
  });

  it('counts a scaled-at up to 60 s ahead of this clock (another function’s clock), not further', () => {
    expect(cooldownUntil(scaledAt(60_000), 60, now)?.getTime()).toBe(now.getTime() + 120_000);
    expect(cooldownUntil(scaledAt(60_001), 60, now)).toBeUndefined();
  });
});

describe('decideScale: the guards in the order a service meets them', () => {
  const opted = { 'com.df.scaleMax': '6', 'com.df.scaleMin': '2' };

  it('never scales a service that is not in replicated mode, whatever replica count it reports', async () => {
    for (const mode of ['global', 'other'] as const) {
      expect(decideScale({ ...(await service(opted, 3)), mode }, up, now, 60), mode).toMatchObject({
        kind: 'ignore',
        reason: 'global-mode',
      });
    }
  });

  it('never scales a replicated service whose replica count is unknown', async () => {
    expect(decideScale({ ...(await service(opted)), replicas: undefined }, up, now, 60)).toMatchObject({
      kind: 'ignore',
      reason: 'global-mode',
    });
  });

  it('refuses a service whose com.df.* labels are invalid, saying which', async () => {
    expect(decideScale(await service({ 'com.df.scaleMax': 'lots' }), up, now, 60)).toEqual({
      kind: 'skip',
      reason: 'invalid-labels',
      detail: 'com.df.scaleMax="lots" must be a whole number from 1 to 10000',
    });
  });

  it('says which bound stopped it', async () => {
    expect(decideScale(await service(opted, 6), up, now, 60)).toMatchObject({
      reason: 'at-max',
      detail: expect.stringContaining('com.df.scaleMax is 6'),
    });
    expect(decideScale(await service(opted, 2), [{ kind: 'delta', delta: -1 }], now, 60)).toMatchObject({
      reason: 'at-min',
      detail: expect.stringContaining('com.df.scaleMin is 2'),
    });
  });
});
