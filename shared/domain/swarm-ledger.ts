import { VersionConflictError } from './errors';
import { LEGACY_REMOVAL_PREFIX, NODE_SCALE_CLAIM_LABEL, REPLACEMENT_CLAIM_PREFIX } from './labels';
import type { SwarmInfo, SwarmNodes } from './swarm';

/**
 * Limits that callers for *different* targets share (replacements per hour, the node-scale
 * cooldown) are claimed on the swarm object itself: its spec labels, written with the version
 * that was read (`POST /swarm/update?version=N`). Of two concurrent claims Swarm accepts one;
 * the other gets "update out of sequence" (VersionConflictError) and its caller re-reads and
 * decides again (retryAttempt). Count and claim are one write: never counted first and
 * written after. No database: the ledger lives in the raft store of the swarm it guards.
 */
export type LedgerSwarm = Pick<SwarmNodes, 'inspectSwarm' | 'updateSwarm'>;

const ONE_HOUR_MS = 3_600_000;

export interface ReplacementClaim {
  readonly nodeId: string;
  readonly claimedAt: Date;
  /** When the node was first seen down by the claimer: our own later writes must not restart the grace period. */
  readonly downSince: Date;
  /** Its role when claimed: a retry after our own demotion still knows it replaces a manager. */
  readonly role: 'manager' | 'worker' | undefined;
  /** A ghost's removal (its instance is gone, nothing is terminated): takes no slot of the hourly limit. */
  readonly ghost?: boolean;
}

/** The replacement claims on the swarm, newest first; unparseable values are ignored (and pruned). */
export function readReplacementClaims(labels: Readonly<Record<string, string>>): ReplacementClaim[] {
  const claims: ReplacementClaim[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const prefix = key.startsWith(REPLACEMENT_CLAIM_PREFIX)
      ? REPLACEMENT_CLAIM_PREFIX
      : key.startsWith(LEGACY_REMOVAL_PREFIX)
        ? LEGACY_REMOVAL_PREFIX
        : undefined;
    if (!prefix) continue;
    const [claimed, down, role, kind] = value.split(' ');
    const claimedAt = new Date(claimed ?? '');
    const downSince = new Date(down ?? claimed ?? '');
    if (Number.isNaN(claimedAt.getTime()) || Number.isNaN(downSince.getTime())) continue;
    claims.push({
      nodeId: key.slice(prefix.length),
      claimedAt,
      downSince,
      role: role === 'manager' || role === 'worker' ? role : undefined,
      ghost: kind === 'ghost',
    });
  }
  return claims.sort((a, b) => b.claimedAt.getTime() - a.claimedAt.getTime());
}

/** Claims of the last hour for nodes other than `nodeId`: what the hourly limit counts. */
export function recentClaimsOfOthers(
  claims: readonly ReplacementClaim[],
  nodeId: string,
  now: Date,
): ReplacementClaim[] {
  const cutoff = now.getTime() - ONE_HOUR_MS;
  return claims.filter((c) => c.nodeId !== nodeId && !c.ghost && c.claimedAt.getTime() > cutoff);
}

/** Labels that are expired (older than an hour) or unreadable: removed by the next write. */
function prunedLabels(labels: Readonly<Record<string, string>>, now: Date): Record<string, undefined> {
  const keep = new Set(
    readReplacementClaims(labels)
      .filter((c) => c.claimedAt.getTime() > now.getTime() - ONE_HOUR_MS)
      .map((c) => c.nodeId),
  );
  const out: Record<string, undefined> = {};
  for (const key of Object.keys(labels)) {
    const prefix = [REPLACEMENT_CLAIM_PREFIX, LEGACY_REMOVAL_PREFIX].find((p) => key.startsWith(p));
    if (prefix && !keep.has(key.slice(prefix.length))) out[key] = undefined;
  }
  return out;
}

/**
 * Claims a replacement slot for `nodeId` in one versioned swarm update (and prunes expired
 * claims). Throws VersionConflictError when another caller wrote the swarm since `info` was
 * read: re-read, re-decide.
 */
export async function claimReplacement(
  swarm: LedgerSwarm,
  info: SwarmInfo,
  claim: ReplacementClaim,
): Promise<void> {
  await swarm.updateSwarm(info, {
    labels: {
      ...prunedLabels(info.labels, claim.claimedAt),
      [REPLACEMENT_CLAIM_PREFIX + claim.nodeId]: [
        claim.claimedAt.toISOString(),
        claim.downSince.toISOString(),
        claim.role ?? 'worker',
        ...(claim.ghost ? ['ghost'] : []),
      ].join(' '),
    },
  });
}

/** Gives a claim back (an attempt that aborted before the node left): versioned, re-read on conflict. */
export async function releaseReplacement(swarm: LedgerSwarm, nodeId: string, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    const info = await swarm.inspectSwarm();
    const keys = [REPLACEMENT_CLAIM_PREFIX + nodeId, LEGACY_REMOVAL_PREFIX + nodeId].filter(
      (k) => k in info.labels,
    );
    if (keys.length === 0) return;
    try {
      await swarm.updateSwarm(info, { labels: Object.fromEntries(keys.map((k) => [k, undefined])) });
      return;
    } catch (error) {
      if (i >= attempts || !(error instanceof VersionConflictError)) throw error;
    }
  }
}

/** When the node-scale cooldown was last claimed, if ever, and by which call (no token: an earlier version). */
export function readNodeScaleClaim(
  labels: Readonly<Record<string, string>>,
): { at: Date; token: string | undefined } | undefined {
  const [time = '', token] = (labels[NODE_SCALE_CLAIM_LABEL] ?? '').split(' ');
  const at = new Date(time);
  return Number.isNaN(at.getTime()) ? undefined : { at, token: token || undefined };
}

/** Claims the node-scale cooldown in one versioned swarm update; VersionConflictError when raced. */
export async function claimNodeScale(
  swarm: LedgerSwarm,
  info: SwarmInfo,
  claim: { at: Date; token: string },
): Promise<void> {
  await swarm.updateSwarm(info, {
    labels: { [NODE_SCALE_CLAIM_LABEL]: `${claim.at.toISOString()} ${claim.token}` },
  });
}
