import type { NodeState } from '../../shared/domain/swarm';
import type { ReplacementClaim } from '../../shared/domain/swarm-ledger';

/** The claim's time is the function's clock, UpdatedAt the manager's: this much either way is the same moment. */
export const DEMOTION_CLOCK_SKEW_MS = 30_000;

/**
 * Since when the node is down: its UpdatedAt, unless the last write to it was our own
 * demotion. Nothing but a demotion turns a manager into a worker, and a dead node is demoted
 * only by us, after our claim: so a node claimed as a manager, now a worker, written after the
 * claim, takes the claim's down-since — however much later the demotion came (a retry a
 * minute or an hour after the claim). A manager that came back after our demotion and went
 * down again keeps that time too: it is treated as the same failure.
 */
export function downSinceOf(node: NodeState, own: ReplacementClaim | undefined): Date {
  if (!own || own.role !== 'manager' || node.role !== 'worker') return node.updatedAt;
  const writtenAfterClaim = node.updatedAt.getTime() >= own.claimedAt.getTime() - DEMOTION_CLOCK_SKEW_MS;
  return writtenAfterClaim && own.downSince < node.updatedAt ? own.downSince : node.updatedAt;
}
