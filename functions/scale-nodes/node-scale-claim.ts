import { randomBytes } from 'node:crypto';
import { VersionConflictError } from '../../shared/domain/errors';
import { NODE_SCALE_CLAIM_LABEL } from '../../shared/domain/labels';
import type { SwarmInfo } from '../../shared/domain/swarm';
import { claimNodeScale, type LedgerSwarm, readNodeScaleClaim } from '../../shared/domain/swarm-ledger';

/**
 * The node-scale cooldown as one call holds it: every scale-out and scale-in is claimed on
 * the swarm (shared/domain/swarm-ledger.ts) after its decision and before it acts, so that of many
 * concurrent or quickly repeated deliveries exactly one acts, even before Auto Scaling lists
 * the activity. The call knows its own claim by a random token in the label: a retry of its
 * own attempt is not its own cooldown, and a change that Auto Scaling refused gives the claim back.
 */
export interface OwnClaim {
  readonly at: Date;
  /** One per call, on every claim it writes: a claim of another call at the same second is not ours. */
  readonly token: string;
  /** The label value this call's first claim replaced: what a release puts back. */
  readonly previous: string | undefined;
}

const isOwn = (labels: Readonly<Record<string, string>>, own: OwnClaim | undefined): boolean =>
  own !== undefined && readNodeScaleClaim(labels)?.token === own.token;

/** The claim that counts for the cooldown: the one on the swarm unless this call wrote it. */
export function othersClaim(
  labels: Readonly<Record<string, string>>,
  own: OwnClaim | undefined,
): Date | undefined {
  return isOwn(labels, own) ? undefined : readNodeScaleClaim(labels)?.at;
}

/**
 * Claims the cooldown with the swarm version that was read; VersionConflictError when raced.
 * The claim is recorded in `memo` BEFORE it is written: a write that Swarm applied but whose
 * answer was lost (a 5xx or a hang-up that is retried, or the manager pool trying the next
 * manager, which answers "update out of sequence") is then read back as this call's own,
 * not as another call's cooldown that would drop the change and keep everyone waiting.
 */
export async function claimCooldown(
  swarm: LedgerSwarm,
  info: SwarmInfo,
  now: Date,
  memo: { claim?: OwnClaim | undefined },
): Promise<void> {
  const own = memo.claim;
  const previous = own && isOwn(info.labels, own) ? own.previous : info.labels[NODE_SCALE_CLAIM_LABEL];
  const claim = { at: now, token: own?.token ?? randomBytes(8).toString('hex'), previous };
  memo.claim = claim;
  await claimNodeScale(swarm, info, claim);
}

/**
 * Puts back what the claim replaced, if the claim on the swarm is still this call's; versioned,
 * re-read on conflict. False when another call has claimed since, or the claim was never
 * written (nothing to give back).
 */
export async function releaseCooldown(swarm: LedgerSwarm, own: OwnClaim, attempts = 5): Promise<boolean> {
  for (let i = 1; ; i++) {
    const info = await swarm.inspectSwarm();
    if (!isOwn(info.labels, own)) return false;
    try {
      await swarm.updateSwarm(info, { labels: { [NODE_SCALE_CLAIM_LABEL]: own.previous } });
      return true;
    } catch (error) {
      if (i >= attempts || !(error instanceof VersionConflictError)) throw error;
    }
  }
}
