import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VersionConflictError } from '../../../shared/domain/errors';
import { NODE_SCALE_CLAIM_LABEL, REPLACEMENT_CLAIM_PREFIX } from '../../../shared/domain/labels';
import {
  claimNodeScale,
  claimReplacement,
  readNodeScaleClaim,
  readReplacementClaims,
  recentClaimsOfOthers,
  releaseReplacement,
} from '../../../shared/domain/swarm-ledger';
import { FakeNodes } from '../../support/fake-nodes';

const now = new Date('2026-11-24T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1_000);

describe('the replacement ledger on the swarm object', () => {
  it('writes a claim with its down-since time and role, and reads it back', async () => {
    const swarm = new FakeNodes();
    await claimReplacement(swarm, await swarm.inspectSwarm(), {
      nodeId: 'n1',
      claimedAt: now,
      downSince: ago(600),
      role: 'manager',
    });
    expect(readReplacementClaims(swarm.swarm.labels)).toEqual([
      { nodeId: 'n1', claimedAt: now, downSince: ago(600), role: 'manager', ghost: false },
    ]);
  });

  it('lets exactly one of two claims read at the same version through', async () => {
    const swarm = new FakeNodes();
    const info = await swarm.inspectSwarm();
    const claim = (nodeId: string) =>
      claimReplacement(swarm, info, { nodeId, claimedAt: now, downSince: now, role: 'worker' });
    const results = await Promise.allSettled([claim('a'), claim('b')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(VersionConflictError);
  });

  it('counts only other nodes claimed within the hour, and prunes the expired ones on the next write', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels[`${REPLACEMENT_CLAIM_PREFIX}old`] =
      `${ago(7_200).toISOString()} ${ago(7_300).toISOString()}`;
    swarm.swarm.labels[`${REPLACEMENT_CLAIM_PREFIX}recent`] = ago(60).toISOString();
    swarm.swarm.labels[`${REPLACEMENT_CLAIM_PREFIX}garbage`] = 'not a time';
    swarm.swarm.labels['com.swarm-reflex.removed.legacy'] = ago(120).toISOString();
    swarm.swarm.labels['com.example.other'] = 'kept';
    const claims = readReplacementClaims(swarm.swarm.labels);
    expect(recentClaimsOfOthers(claims, 'recent', now).map((c) => c.nodeId)).toEqual(['legacy']);
    expect(
      recentClaimsOfOthers(claims, 'me', now)
        .map((c) => c.nodeId)
        .sort(),
    ).toEqual(['legacy', 'recent']);
    await claimReplacement(swarm, await swarm.inspectSwarm(), {
      nodeId: 'me',
      claimedAt: now,
      downSince: now,
      role: undefined,
    });
    expect(Object.keys(swarm.swarm.labels).sort()).toEqual([
      'com.example.other',
      'com.swarm-reflex.removed.legacy',
      `${REPLACEMENT_CLAIM_PREFIX}me`,
      `${REPLACEMENT_CLAIM_PREFIX}recent`,
    ]);
  });

  it('releases a claim, re-reading when another write came first', async () => {
    const swarm = new FakeNodes();
    await claimReplacement(swarm, await swarm.inspectSwarm(), {
      nodeId: 'n1',
      claimedAt: now,
      downSince: now,
      role: 'worker',
    });
    const update = swarm.updateSwarm.bind(swarm);
    let raced = false;
    swarm.updateSwarm = async (info, change) => {
      if (!raced) {
        raced = true;
        await update(await swarm.inspectSwarm(), { labels: { 'com.example.x': '1' } });
      }
      return update(info, change);
    };
    await releaseReplacement(swarm, 'n1');
    expect(readReplacementClaims(swarm.swarm.labels)).toEqual([]);
    expect(swarm.swarm.labels['com.example.x']).toBe('1');
  });

  it('never reads a claim time that is not one (any label value)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (value) => {
        for (const c of readReplacementClaims({ [`${REPLACEMENT_CLAIM_PREFIX}n`]: value })) {
          expect(Number.isNaN(c.claimedAt.getTime())).toBe(false);
          expect(Number.isNaN(c.downSince.getTime())).toBe(false);
        }
      }),
    );
  });
});

describe('the node-scale claim', () => {
  it('is read back as the time it was claimed and the token of its caller, and absent or unreadable as never', async () => {
    const swarm = new FakeNodes();
    expect(readNodeScaleClaim(swarm.swarm.labels)).toBeUndefined();
    await claimNodeScale(swarm, await swarm.inspectSwarm(), { at: now, token: '5eed' });
    expect(swarm.swarm.labels[NODE_SCALE_CLAIM_LABEL]).toBe(`${now.toISOString()} 5eed`);
    expect(readNodeScaleClaim(swarm.swarm.labels)).toEqual({ at: now, token: '5eed' });
    expect(readNodeScaleClaim({ [NODE_SCALE_CLAIM_LABEL]: 'soon' })).toBeUndefined();
  });

  it('reads a bare time, as earlier versions wrote it, as a claim without a token', () => {
    expect(readNodeScaleClaim({ [NODE_SCALE_CLAIM_LABEL]: now.toISOString() })).toEqual({
      at: now,
      token: undefined,
    });
  });
});

describe('the replacement ledger: what the hourly limit counts', () => {
  const label = (id: string, value: string) => ({ [`${REPLACEMENT_CLAIM_PREFIX}${id}`]: value });

  it('reads the role it wrote, an unknown role as none, and a ghost’s removal as a ghost', () => {
    const claims = readReplacementClaims({
      ...label('w', `${ago(60).toISOString()} ${ago(90).toISOString()} worker`),
      ...label('m', `${ago(60).toISOString()} ${ago(90).toISOString()} manager`),
      ...label('x', `${ago(60).toISOString()} ${ago(90).toISOString()} leader`),
      ...label('g', `${ago(60).toISOString()} ${ago(90).toISOString()} manager ghost`),
    });
    const byId = Object.fromEntries(claims.map((c) => [c.nodeId, c]));
    expect(byId.w).toMatchObject({ role: 'worker', ghost: false });
    expect(byId.m).toMatchObject({ role: 'manager', ghost: false });
    expect(byId.x).toMatchObject({ role: undefined, ghost: false });
    expect(byId.g).toMatchObject({ role: 'manager', ghost: true });
  });

  it('ignores a claim whose down-since cannot be read, even with a readable claim time', () => {
    expect(readReplacementClaims(label('n', `${ago(60).toISOString()} soon worker`))).toEqual([]);
  });

  it('lists the claims newest first', () => {
    const claims = readReplacementClaims({
      ...label('b', ago(120).toISOString()),
      ...label('a', ago(60).toISOString()),
      ...label('c', ago(180).toISOString()),
    });
    expect(claims.map((c) => c.nodeId)).toEqual(['a', 'b', 'c']);
  });

  it('counts a claim for an hour, not a moment longer, and never a ghost’s', () => {
    const claims = readReplacementClaims({
      ...label('young', ago(3_599).toISOString()),
      ...label('hour', ago(3_600).toISOString()),
      ...label('ghost', `${ago(60).toISOString()} ${ago(90).toISOString()} worker ghost`),
    });
    expect(recentClaimsOfOthers(claims, 'me', now).map((c) => c.nodeId)).toEqual(['young']);
  });

  it('prunes a claim that is an hour old with the next write, and keeps a younger one', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = {
      ...label('young', ago(3_599).toISOString()),
      ...label('hour', ago(3_600).toISOString()),
    };
    await claimReplacement(swarm, await swarm.inspectSwarm(), {
      nodeId: 'me',
      claimedAt: now,
      downSince: now,
      role: 'worker',
    });
    expect(Object.keys(swarm.swarm.labels).sort()).toEqual([
      `${REPLACEMENT_CLAIM_PREFIX}me`,
      `${REPLACEMENT_CLAIM_PREFIX}young`,
    ]);
  });

  it('writes a ghost’s removal as one, and nothing more for another claim', async () => {
    const swarm = new FakeNodes();
    const write = async (nodeId: string, ghost?: boolean) => {
      const claim = { nodeId, claimedAt: now, downSince: ago(90), role: 'manager' as const, ghost };
      await claimReplacement(swarm, await swarm.inspectSwarm(), claim);
    };
    await write('g', true);
    await write('n');
    expect(swarm.swarm.labels).toEqual({
      ...label('g', `${now.toISOString()} ${ago(90).toISOString()} manager ghost`),
      ...label('n', `${now.toISOString()} ${ago(90).toISOString()} manager`),
    });
  });
});

describe('releaseReplacement: gives back one node’s claim and nothing else', () => {
  it('removes the node’s claim, as this version and as earlier versions wrote it', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = {
      [`${REPLACEMENT_CLAIM_PREFIX}n1`]: now.toISOString(),
      'com.swarm-reflex.removed.n1': now.toISOString(),
      [`${REPLACEMENT_CLAIM_PREFIX}n2`]: now.toISOString(),
    };
    await releaseReplacement(swarm, 'n1');
    expect(swarm.swarm.labels).toEqual({ [`${REPLACEMENT_CLAIM_PREFIX}n2`]: now.toISOString() });
  });

  it('writes nothing when the node holds no claim', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = { [`${REPLACEMENT_CLAIM_PREFIX}n2`]: now.toISOString() };
    const version = swarm.swarm.version;
    await releaseReplacement(swarm, 'n1');
    expect(swarm.swarm.version).toBe(version);
  });

  it('gives up after its attempts, and at once on anything but a conflict', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = { [`${REPLACEMENT_CLAIM_PREFIX}n1`]: now.toISOString() };
    let writes = 0;
    swarm.updateSwarm = async () => {
      writes++;
      throw new VersionConflictError('update out of sequence');
    };
    await expect(releaseReplacement(swarm, 'n1', 3)).rejects.toBeInstanceOf(VersionConflictError);
    expect(writes).toBe(3);
    writes = 0;
    swarm.updateSwarm = async () => {
      writes++;
      throw new Error('refused');
    };
    await expect(releaseReplacement(swarm, 'n1', 3)).rejects.toThrow('refused');
    expect(writes).toBe(1);
  });
});
