import { describe, expect, it } from 'vitest';
import { createPauseSwitch } from '../../../shared/adapters/pause-switch';
import type { StoredParameter } from '../../../shared/domain/cloud';
import {
  DependencyUnavailableError,
  QuorumLostError,
  VersionConflictError,
} from '../../../shared/domain/errors';
import { EXCLUDE_LABEL, LEAVING_LABEL, PAUSE_LABEL, SCALE_IN_LABEL } from '../../../shared/domain/labels';
import { optOutOf } from '../../../shared/domain/opt-out';
import { formatPause, PAUSE_TTL_MS, readPause, writePauseLabel } from '../../../shared/domain/pause';
import type { SwarmInfo } from '../../../shared/domain/swarm';
import { FakeNodes } from '../../support/fake-nodes';

const record = (paused: boolean, by = 'alice@laptop') =>
  formatPause({ paused, since: '2026-11-24T11:00:00.000Z', by, reason: 'migration' });

describe('readPause', () => {
  it('reads our value, and "paused": false or nothing as not paused', () => {
    expect(readPause(record(true), 'ssm')).toEqual({
      since: new Date('2026-11-24T11:00:00Z'),
      by: 'alice@laptop',
      reason: 'migration',
      source: 'ssm',
    });
    expect(readPause(record(false), 'ssm')).toBeUndefined();
    expect(readPause(undefined, 'swarm')).toBeUndefined();
    expect(readPause('  ', 'swarm')).toBeUndefined();
  });

  it('pauses on a value that is not ours (not JSON, wrong shape, huge), and says so briefly', () => {
    for (const value of [
      'yes',
      'true',
      '{"paused": "yes"}',
      '[1]',
      `{"paused":true,"x":"${'y'.repeat(100_000)}"}`,
    ]) {
      const pause = readPause(value, 'swarm');
      expect(pause?.by).toBe('unknown');
      expect(pause?.reason).toMatch(/^unreadable pause value/);
      expect(pause?.reason.length).toBeLessThan(120);
    }
  });

  it('keeps a since in the future as written (it pauses now all the same)', () => {
    const value = JSON.stringify({ paused: true, since: '2099-01-01T00:00:00Z', by: 'b', reason: 'r' });
    expect(readPause(value, 'ssm')?.since.toISOString()).toBe('2099-01-01T00:00:00.000Z');
  });
});

/** A parameter store and a swarm whose pause the test sets, counting the reads. */
function sources() {
  const state = { ssm: undefined as string | undefined, label: undefined as string | undefined };
  const reads = { ssm: 0, swarm: 0 };
  const failures: { ssm?: Error; swarm?: Error } = {};
  const store = {
    async get(names: readonly string[]) {
      reads.ssm++;
      if (failures.ssm) throw failures.ssm;
      const map = new Map<string, StoredParameter>();
      if (state.ssm !== undefined) map.set(names[0] ?? '', { value: state.ssm, lastModified: undefined });
      return map;
    },
  };
  const swarm = {
    async inspectSwarm(): Promise<SwarmInfo> {
      reads.swarm++;
      if (failures.swarm) throw failures.swarm;
      const labels: Record<string, string> = state.label === undefined ? {} : { [PAUSE_LABEL]: state.label };
      return { version: 1, labels, joinTokens: { worker: '', manager: '' }, spec: {} };
    },
  };
  return { state, reads, failures, store, swarm };
}

describe('the pause switch (read at most once per PAUSE_TTL_MS per container)', () => {
  it('a pause set in SSM is in force within the TTL, and a cleared one is lifted within the TTL', async () => {
    const s = sources();
    let t = 0;
    const sw = createPauseSwitch({ parameters: { store: s.store, name: '/p/pause' }, now: () => t });
    expect(await sw.read()).toBeUndefined();
    s.state.ssm = record(true);
    t += 1_000;
    expect(await sw.read()).toBeUndefined(); // still the cached "not paused"
    t = PAUSE_TTL_MS; // one TTL after the first read
    expect(await sw.read()).toMatchObject({ by: 'alice@laptop', source: 'ssm' });
    s.state.ssm = record(false, 'bob@desk');
    t += PAUSE_TTL_MS - 1;
    expect(await sw.read()).toBeDefined();
    t += 1;
    expect(await sw.read()).toBeUndefined();
    expect(s.reads.ssm).toBe(3);
    expect(PAUSE_TTL_MS).toBeLessThanOrEqual(30_000); // within a minute, with the next call
  });

  it('a pause set on the swarm label is in force within the TTL, and its removal lifts it', async () => {
    const s = sources();
    let t = 0;
    const sw = createPauseSwitch({ swarm: s.swarm, now: () => t });
    expect(await sw.read()).toBeUndefined();
    s.state.label = record(true);
    t = PAUSE_TTL_MS;
    expect(await sw.read()).toMatchObject({ source: 'swarm', reason: 'migration' });
    s.state.label = undefined;
    t = 2 * PAUSE_TTL_MS;
    expect(await sw.read()).toBeUndefined();
  });

  it('either source pauses; with both, the older pause is the one told', async () => {
    const s = sources();
    s.state.label = formatPause({
      paused: true,
      since: '2026-11-24T10:00:00.000Z',
      by: 'early',
      reason: 'a',
    });
    s.state.ssm = formatPause({ paused: true, since: '2026-11-24T11:00:00.000Z', by: 'late', reason: 'b' });
    const sw = createPauseSwitch({ parameters: { store: s.store, name: '/p/pause' }, swarm: s.swarm });
    expect((await sw.read())?.by).toBe('early');
  });

  it('a failed read fails the call and is not cached: the next call reads again', async () => {
    const s = sources();
    let t = 0;
    const sw = createPauseSwitch({ parameters: { store: s.store, name: '/p/pause' }, now: () => t });
    s.failures.ssm = new DependencyUnavailableError('aws', 'throttled');
    await expect(sw.read()).rejects.toThrow('throttled');
    s.failures.ssm = undefined;
    s.state.ssm = record(true);
    t += 1;
    expect(await sw.read()).toBeDefined();
  });

  it('a swarm without a leader is not read as paused or unpaused: not cached, and SSM still decides', async () => {
    const s = sources();
    const sw = createPauseSwitch({
      parameters: { store: s.store, name: '/p/pause' },
      swarm: s.swarm,
      now: () => 0,
    });
    s.failures.swarm = new QuorumLostError('no leader');
    expect(await sw.read()).toBeUndefined();
    s.failures.swarm = undefined;
    s.state.label = record(true);
    expect(await sw.read()).toBeDefined(); // read again at once: the leaderless answer was not kept
    s.failures.swarm = new DependencyUnavailableError('docker', 'no manager answered');
    const fresh = createPauseSwitch({ swarm: s.swarm });
    await expect(fresh.read()).rejects.toThrow('no manager answered');
  });
});

describe('writePauseLabel (npm run pause on-prem)', () => {
  it('sets and removes the label in versioned swarm updates, keeping the other labels', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = { 'com.swarm-reflex.node-scale-at': 'x' };
    const r = { paused: true, since: '2026-11-24T11:00:00.000Z', by: 'a', reason: 'r' };
    await writePauseLabel(swarm, r);
    expect(swarm.swarm.labels).toEqual({
      'com.swarm-reflex.node-scale-at': 'x',
      [PAUSE_LABEL]: formatPause(r),
    });
    await writePauseLabel(swarm, undefined);
    expect(swarm.swarm.labels).toEqual({ 'com.swarm-reflex.node-scale-at': 'x' });
    const version = swarm.swarm.version;
    await writePauseLabel(swarm, undefined); // nothing to remove: no write
    expect(swarm.swarm.version).toBe(version);
  });

  it('re-reads and writes again when another write came between (update out of sequence)', async () => {
    const swarm = new FakeNodes();
    const update = swarm.updateSwarm.bind(swarm);
    let conflicts = 2;
    swarm.updateSwarm = async (info, change) => {
      if (conflicts-- > 0) {
        swarm.swarm.version++;
        swarm.swarm.labels['com.swarm-reflex.replacing.n1'] = 'claim';
        throw new VersionConflictError('update out of sequence');
      }
      return update(info, change);
    };
    await writePauseLabel(swarm, { paused: true, since: '2026-11-24T11:00:00.000Z', by: 'a', reason: 'r' });
    expect(Object.keys(swarm.swarm.labels).sort()).toEqual([PAUSE_LABEL, 'com.swarm-reflex.replacing.n1']);
  });
});

describe('optOutOf: the one rule for node opt-outs', () => {
  const node = (
    labels: Record<string, string> = {},
    availability: 'active' | 'drain' | 'pause' = 'active',
  ) => ({
    hostname: 'w1',
    availability,
    labels,
  });

  it('reads any exclude value but false as excluded (TRUE, yes, empty, garbage)', () => {
    for (const v of ['true', 'TRUE', 'yes', '', '1', ' no-thanks ']) {
      expect(optOutOf(node({ [EXCLUDE_LABEL]: v }))?.reason).toBe('excluded');
    }
    for (const v of ['false', 'FALSE', ' False '])
      expect(optOutOf(node({ [EXCLUDE_LABEL]: v }))).toBeUndefined();
    expect(optOutOf(node())).toBeUndefined();
  });

  it("reads a person's drain or pause as maintenance, never our own (scale-in, leaving)", () => {
    expect(optOutOf(node({}, 'drain'))?.reason).toBe('maintenance');
    expect(optOutOf(node({}, 'pause'))?.detail).toContain('pause');
    expect(optOutOf(node({ [SCALE_IN_LABEL]: '2026-11-24T11:00:00Z' }, 'drain'))).toBeUndefined();
    expect(optOutOf(node({ [LEAVING_LABEL]: 'spot 2026-11-24T11:00:00Z' }, 'drain'))).toBeUndefined();
  });

  it('reads Auto Scaling Standby (and entering it) as maintenance', () => {
    expect(optOutOf(node(), 'Standby')?.reason).toBe('maintenance');
    expect(optOutOf(node(), 'EnteringStandby')?.reason).toBe('maintenance');
    for (const s of ['InService', 'Pending', 'Terminating:Wait', undefined])
      expect(optOutOf(node(), s)).toBeUndefined();
  });
});
