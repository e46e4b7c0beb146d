import { QuorumLostError } from '../../shared/domain/errors';
import type { NodeState, ServiceState, TaskState } from '../../shared/domain/swarm';
import {
  type Context,
  type HealthSweepDeps,
  type SweepInput,
  type SweepResult,
  sweepContext,
} from './context';
import { downNodes } from './down-nodes';
import type { Finding } from './findings';
import { halfDoneReplacements } from './half-done-replacements';
import { joinTokens } from './join-tokens';
import { sent } from './outbox';
import { type PauseRead, pausedFinding, readPauseOf } from './pause';
import { noLeader, quorum } from './quorum';
import { rebalance } from './rebalance';
import { replicaShortfalls } from './replica-shortfalls';
import { scaleIns } from './scale-ins';

export {
  assessQuorum,
  type QuorumView,
  type RebalanceCandidate,
  rebalanceCandidates,
  type UnderReplication,
  underReplicated,
} from './assessments';
export type { HealthSweepDeps, SweepInput, SweepResult } from './context';
export type { Finding, FindingKind, Severity } from './findings';
export { NO_LEADER_REMIND_SECONDS } from './quorum';
export { crossedWithin, crossingNumber } from './window';
export { duration } from './wording';

/**
 * Every minute, one read of the whole swarm (nodes, services, tasks), and findings as data:
 * down nodes (replace-node is dispatched), quorum, under-replicated services, pending
 * scale-ins (completed), uneven spread after a node joined (rebalanced, opted-in services
 * only), stale manager addresses for joining nodes (sync-join-tokens is dispatched).
 *
 * It keeps no state. Each finding is reported to a person once, by the sweep whose interval
 * contains the moment the finding crossed its threshold, measured from a time Swarm keeps
 * (a node's UpdatedAt, a task's CreatedAt). The sweep never removes anything itself.
 *
 * Each check is a pure classifier (the read, the settings and the sweep's time in; findings,
 * messages and the effects to apply out) and a short step that applies it through the ports.
 */
export async function sweep(deps: HealthSweepDeps, input: SweepInput): Promise<SweepResult> {
  // While a person has paused the automation, every check still runs and reports; the ones
  // that would dispatch or change something say `paused` instead (as a dry run says dry-run).
  const paused = await readPauseOf(deps, input.log);
  const ctx = sweepContext(deps, input, paused !== undefined);
  try {
    return await findAll(ctx, paused);
  } finally {
    await sent(ctx);
  }
}

async function findAll(ctx: Context, paused: PauseRead): Promise<SweepResult> {
  const { deps, input } = ctx;
  const result = (outcomes: Finding[]): SweepResult => ({
    dryRun: input.dryRun,
    at: input.at.toISOString(),
    outcomes: paused ? [pausedFinding(paused), ...outcomes] : outcomes,
  });
  const reads = await Promise.allSettled([
    deps.nodes.listNodes(),
    deps.services.listServices(),
    deps.tasks.listTasks(),
  ]);
  const failed = reads.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const lost = failed.find((e): e is QuorumLostError => e instanceof QuorumLostError);
  if (lost) return result([await noLeader(ctx, lost)]);
  if (failed.length > 0) throw failed[0];
  const [nodes, services, tasks] = reads.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    NodeState[],
    ServiceState[],
    TaskState[],
  ];

  const findings: Finding[] = [];
  findings.push(...(await quorum(ctx, nodes)));
  findings.push(...(await downNodes(ctx, nodes)));
  findings.push(...(await halfDoneReplacements(ctx, nodes)));
  findings.push(...(await replicaShortfalls(ctx, services, tasks)));
  findings.push(...(await scaleIns(ctx, nodes, tasks)));
  findings.push(...(await rebalance(ctx, services, nodes, tasks)));
  findings.push(...(await joinTokens(ctx, nodes)));
  return result(findings);
}
