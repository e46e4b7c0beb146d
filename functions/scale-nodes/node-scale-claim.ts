import { VersionConflictError } from '../../shared/errors';
import type { SwarmInfo } from '../../shared/swarm';
import {
  claimNodeScale,
  type LedgerSwarm,
  NODE_SCALE_CLAIM_LABEL,
  readNodeScaleClaim,
} from '../../shared/swarm-ledger';

/**
 * The node-scale cooldown as one call holds it: every scale-out and scale-in is claimed on
 * the swarm (shared/swarm-ledger.ts) after its decision and before it acts, so that of many
 * concurrent or quickly repeated deliveries exactly one acts, even before Auto Scaling lists
 * the activity. The call remembers its own claim: a retry of its own attempt is not its
 * own cooldown, and a change that Auto Scaling refused gives the claim back.
 */
export interface OwnClaim {
  readonly at: Date;
  /** The label value this call's first claim replaced: what a release puts back. */
  readonly previous: string | undefined;
}

const isOwn = (labels: Readonly<Record<string, string>>, own: OwnClaim | undefined): boolean =>
  own !== undefined && readNodeScaleClaim(labels)?.getTime() === own.at.getTime();

/** The claim that counts for the cooldown: the one on the swarm unless this call wrote it. */
export function othersClaim(
  labels: Readonly<Record<string, string>>,
  own: OwnClaim | undefined,
): Date | undefined {
  return isOwn(labels, own) ? undefined : readNodeScaleClaim(labels);
}

/** Claims the cooldown with the swarm version that was read; VersionConflictError when raced. */
export async function claimCooldown(
  swarm: LedgerSwarm,
  info: SwarmInfo,
  now: Date,
  own: OwnClaim | undefined,
): Promise<OwnClaim> {
  const previous = own && isOwn(info.labels, own) ? own.previous : info.labels[NODE_SCALE_CLAIM_LABEL];
  await claimNodeScale(swarm, info, now);
  return { at: now, previous };
}

/**
 * Puts back what the claim replaced, if the claim on the swarm is still this call's; versioned,
 * re-read on conflict. False when another call has claimed since (nothing to give back).
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
