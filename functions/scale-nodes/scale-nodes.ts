import {
  type AlertmanagerWebhook,
  type AlertReading,
  readAlerts,
  readScaleLabel,
} from '../../shared/domain/alerts';
import type { WorkerGroup } from '../../shared/domain/cloud';
import type { Logger } from '../../shared/domain/log';
import { quote } from '../../shared/domain/names';
import type { Notifier } from '../../shared/domain/notice';
import { retryAttempt } from '../../shared/domain/retry';
import { completeScaleIns, type ScaleInProgress } from '../../shared/domain/scale-in';
import type { SwarmNodes, TaskState } from '../../shared/domain/swarm';
import {
  applyPlan,
  type CallMemo,
  type GroupOutcome,
  type NodeScaleOutcome,
  recogniseUnanswered,
} from './apply-node-scale';
import {
  combineDeltas,
  decideNodeScale,
  describePlan,
  type NodeScaleRequest,
  type NodeScaleSettings,
  parseNodeScale,
} from './decide-node-scale';
import { claimCooldown, othersClaim, releaseCooldown } from './node-scale-claim';

export type { NodeScaleOutcome } from './apply-node-scale';

export interface ScaleNodesDeps {
  /** The nodes, and the swarm object whose labels hold the node-scale claim. */
  swarm: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'removeNode' | 'inspectSwarm' | 'updateSwarm'>;
  tasks: { listTasks(): Promise<TaskState[]> };
  /** Undefined without AWS or without WORKER_ASG_NAME. */
  group: WorkerGroup | undefined;
  notifier: Notifier;
  clock: { now(): Date };
  settings: NodeScaleSettings & { updateAttempts: number };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface ScaleNodesInput {
  webhook: AlertmanagerWebhook;
  override: NodeScaleRequest | undefined;
  dryRun: boolean;
  log: Logger;
}

/** What one firing alert asks of the worker group: a signed number of workers. */
function readNodeAlert(
  labels: Readonly<Record<string, string>>,
  ref: string,
  override: NodeScaleRequest | undefined,
  step: number,
): AlertReading<{ ref: string; delta: number }, 'not-node-alert' | 'no-scale-label' | 'invalid-scale-label'> {
  const type = labels.type;
  if (type !== undefined && type !== 'node') {
    return { ignore: 'not-node-alert', detail: `type=${quote(type)} is not node` };
  }
  const scale = readScaleLabel(labels, parseNodeScale, override);
  if ('ignore' in scale) return scale;
  const request = scale.read;
  const delta = request.kind === 'delta' ? request.delta : request.direction === 'up' ? step : -step;
  return { read: { ref, delta } };
}

export async function scaleNodes(
  deps: ScaleNodesDeps,
  input: ScaleNodesInput,
): Promise<{ dryRun: boolean; outcomes: NodeScaleOutcome[]; scaleIns: ScaleInProgress[] }> {
  const { read: requests, ignored } = readAlerts(input.webhook, (labels, ref) =>
    readNodeAlert(labels, ref, input.override, deps.settings.nodeScaleStep),
  );
  const outcomes: NodeScaleOutcome[] = [...ignored];
  if (requests.length === 0) return { dryRun: input.dryRun, outcomes, scaleIns: [] };
  const deltas = requests.map((r) => r.delta);
  const { outcome, scaleIns } = await scaleGroup(deps, input, deltas);
  for (const r of requests) outcomes.push({ ...outcome, alert: r.ref } as NodeScaleOutcome);
  return { dryRun: input.dryRun, outcomes, scaleIns };
}

/** The one decision for the worker group that every request of this call shares, and what it did. */
async function scaleGroup(
  deps: ScaleNodesDeps,
  input: ScaleNodesInput,
  deltas: readonly number[],
): Promise<{ outcome: GroupOutcome; scaleIns: ScaleInProgress[] }> {
  const group = deps.group;
  if (!group) {
    const detail =
      'no worker Auto Scaling group is configured (CLOUD=aws and WORKER_ASG_NAME): nothing to scale';
    return { outcome: { kind: 'skipped', reason: 'no-cloud', detail }, scaleIns: [] };
  }
  const delta = combineDeltas(deltas);
  if (delta === undefined) {
    const detail = 'alerts in this request ask to scale both up and down';
    return { outcome: { kind: 'skipped', reason: 'conflicting-alerts', detail }, scaleIns: [] };
  }
  // Finish (or abandon) what an earlier scale-in started before deciding anew. A completion that
  // fails for now is reported in `scaleIns`, never thrown into this decision: it concerns
  // another node, and the next call or the sweep finishes it.
  const complete = () => completeScaleIns({ ...deps, group }, input.log, undefined, { failures: 'report' });
  const scaleIns = input.dryRun ? [] : await complete();
  const outcome = await decideAndApply(deps, group, delta, input);
  input.log.info('decision', { audit: true, ...outcome });
  // A drained node that had no task can leave right away.
  const finished = outcome.kind === 'draining' ? await complete() : [];
  return { outcome, scaleIns: [...scaleIns, ...finished] };
}

/** Attempts until one settles (a conflict re-reads and decides again); a claim left unused goes back. */
async function decideAndApply(
  deps: ScaleNodesDeps,
  group: WorkerGroup,
  delta: number,
  input: ScaleNodesInput,
): Promise<GroupOutcome> {
  const memo: CallMemo = { acted: false };
  let outcome: GroupOutcome;
  try {
    outcome = await retryAttempt(
      { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
      () => attempt(deps, group, delta, input, memo),
    );
  } catch (error) {
    await giveBackUnusedClaim(deps, group, memo, input.log);
    throw error;
  }
  if (outcome.kind === 'skipped') await giveBackUnusedClaim(deps, group, memo, input.log);
  return outcome;
}

/** One attempt: read the group, the swarm and its claim; decide; plan (a dry run stops there); claim; apply. */
async function attempt(
  deps: ScaleNodesDeps,
  group: WorkerGroup,
  delta: number,
  input: ScaleNodesInput,
  memo: CallMemo,
): Promise<GroupOutcome> {
  const [state, nodes, tasks, swarm] = await Promise.all([
    group.describe(),
    deps.swarm.listNodes(),
    deps.tasks.listTasks(),
    deps.swarm.inspectSwarm(),
  ]);
  const done = await recogniseUnanswered(deps, state, memo);
  if (done) return done;
  const now = deps.clock.now();
  const claimedAt = othersClaim(swarm.labels, memo.claim);
  const settings = deps.settings;
  const plan = decideNodeScale({ group: state, nodes, tasks, delta, now, claimedAt, settings });
  if (plan.kind === 'skip') return { kind: 'skipped', reason: plan.reason, detail: plan.detail };
  if (input.dryRun) return { kind: 'skipped', reason: 'dry-run', detail: `would ${describePlan(plan)}` };
  // One decision at a time across every caller: lose this race and the next attempt reads the winner's claim.
  await claimCooldown(deps.swarm, swarm, now, memo);
  return applyPlan(deps, group, state, plan, now, memo);
}

/**
 * A claim whose change did not happen (Auto Scaling refused it, the group changed and the new
 * decision was a skip) goes back, so that it cools nobody down; a change whose answer was lost
 * keeps it unless the group shows it did not happen. Best effort: failing to give it back only
 * means a cooldown that was not needed.
 */
async function giveBackUnusedClaim(
  deps: ScaleNodesDeps,
  group: WorkerGroup,
  memo: CallMemo,
  log: Logger,
): Promise<void> {
  const claim = memo.claim;
  if (!claim || memo.acted) return;
  try {
    if (memo.unanswered && (await group.describe()).desired === memo.unanswered.to) return;
    if (await releaseCooldown(deps.swarm, claim)) {
      log.info('node-scale claim given back', { claimedAt: claim.at.toISOString() });
    }
  } catch (error) {
    log.warn('could not give the node-scale claim back; it cools down until it expires', {
      claimedAt: claim.at.toISOString(),
      error: String(error),
    });
  }
}
