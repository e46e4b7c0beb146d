import { describe, expect, it } from 'vitest';
import {
  claimCooldown,
  type OwnClaim,
  othersClaim,
  releaseCooldown,
} from '../../../../functions/scale-nodes/node-scale-claim';
import { DependencyUnavailableError, VersionConflictError } from '../../../../shared/domain/errors';
import { NODE_SCALE_CLAIM_LABEL } from '../../../../shared/domain/labels';
import { FakeNodes } from '../../../support/fake-nodes';

// The node-scale cooldown as one call holds it: its own claim never cools itself down, another
// call's always does, and a claim given back restores exactly what it replaced — only while
// it is still this call's.

const now = new Date('2026-11-24T12:00:00.000Z');
const label = (at: Date, token?: string) => ({
  [NODE_SCALE_CLAIM_LABEL]: token ? `${at.toISOString()} ${token}` : at.toISOString(),
});
const own: OwnClaim = { at: now, token: 'aaaa', previous: undefined };

describe('othersClaim: what cools this call down', () => {
  it('is nothing when the swarm carries no claim, with or without a claim of this call', () => {
    expect(othersClaim({}, undefined)).toBeUndefined();
    expect(othersClaim({}, own)).toBeUndefined();
  });

  it('is never this call’s own claim', () => {
    expect(othersClaim(label(now, 'aaaa'), own)).toBeUndefined();
  });

  it('is another call’s claim, and a claim without a token (an earlier version)', () => {
    const earlier = new Date(now.getTime() - 5_000);
    expect(othersClaim(label(earlier, 'bbbb'), own)).toEqual(earlier);
    expect(othersClaim(label(earlier, 'bbbb'), undefined)).toEqual(earlier);
    expect(othersClaim(label(earlier), own)).toEqual(earlier);
  });
});

describe('claimCooldown: one versioned write, remembered before it is made', () => {
  it('remembers what its first claim replaced, and keeps that on a retry of its own claim', async () => {
    const swarm = new FakeNodes();
    const before = label(new Date(now.getTime() - 600_000), 'old0');
    swarm.swarm.labels = { ...before };
    const memo: { claim?: OwnClaim } = {};
    await claimCooldown(swarm, await swarm.inspectSwarm(), now, memo);
    expect(memo.claim?.previous).toBe(before[NODE_SCALE_CLAIM_LABEL]);
    expect(swarm.swarm.labels[NODE_SCALE_CLAIM_LABEL]).toBe(`${now.toISOString()} ${memo.claim?.token}`);
    const token = memo.claim?.token;
    await claimCooldown(swarm, await swarm.inspectSwarm(), now, memo);
    expect(memo.claim).toMatchObject({ token, previous: before[NODE_SCALE_CLAIM_LABEL] });
  });

  it('takes as its previous value another call’s claim written since its own', async () => {
    const swarm = new FakeNodes();
    const memo: { claim?: OwnClaim } = {};
    await claimCooldown(swarm, await swarm.inspectSwarm(), now, memo);
    const theirs = label(new Date(now.getTime() + 1_000), 'bbbb');
    swarm.swarm.labels = { ...theirs };
    await claimCooldown(swarm, await swarm.inspectSwarm(), now, memo);
    expect(memo.claim?.previous).toBe(theirs[NODE_SCALE_CLAIM_LABEL]);
  });
});

describe('releaseCooldown: gives back only a claim that is still its own', () => {
  it('puts back what the claim replaced', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = label(now, 'aaaa');
    const previous = label(new Date(now.getTime() - 600_000), 'old0')[NODE_SCALE_CLAIM_LABEL];
    expect(await releaseCooldown(swarm, { ...own, previous })).toBe(true);
    expect(swarm.swarm.labels[NODE_SCALE_CLAIM_LABEL]).toBe(previous);
    expect(await releaseCooldown(new FakeNodes(), own)).toBe(false);
  });

  it('leaves another call’s claim alone', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = label(now, 'bbbb');
    const version = swarm.swarm.version;
    expect(await releaseCooldown(swarm, own)).toBe(false);
    expect(swarm.swarm.labels).toEqual(label(now, 'bbbb'));
    expect(swarm.swarm.version).toBe(version);
  });

  it('re-reads after a conflict, and does not give back a claim another call took meanwhile', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = label(now, 'aaaa');
    const update = swarm.updateSwarm.bind(swarm);
    let conflicts = 2;
    swarm.updateSwarm = async (info, change) => {
      if (conflicts-- > 0) throw new VersionConflictError('update out of sequence');
      return update(info, change);
    };
    expect(await releaseCooldown(swarm, own)).toBe(true);
    expect(swarm.swarm.labels[NODE_SCALE_CLAIM_LABEL]).toBeUndefined();

    const raced = new FakeNodes();
    raced.swarm.labels = label(now, 'aaaa');
    raced.updateSwarm = async () => {
      raced.swarm.labels = label(now, 'bbbb');
      throw new VersionConflictError('update out of sequence');
    };
    expect(await releaseCooldown(raced, own)).toBe(false);
  });

  it('gives up after its attempts, and at once on anything but a conflict', async () => {
    const swarm = new FakeNodes();
    swarm.swarm.labels = label(now, 'aaaa');
    let writes = 0;
    swarm.updateSwarm = async () => {
      writes++;
      throw new VersionConflictError('update out of sequence');
    };
    await expect(releaseCooldown(swarm, own, 3)).rejects.toBeInstanceOf(VersionConflictError);
    expect(writes).toBe(3);

    writes = 0;
    swarm.updateSwarm = async () => {
      writes++;
      throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    };
    await expect(releaseCooldown(swarm, own, 3)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(writes).toBe(1);
  });
});
