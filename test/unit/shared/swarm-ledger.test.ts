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
