import { type AlertmanagerWebhook, alertRef } from '../../shared/domain/alerts';
import type { WorkerGroup } from '../../shared/domain/cloud';
import type { Logger } from '../../shared/domain/log';
import { quote } from '../../shared/domain/names';
import type { Notifier } from '../../shared/domain/notice';
import { retryAttempt } from '../../shared/domain/retry';
import { completeScaleIns, type ScaleInProgress } from '../../shared/domain/scale-in';
import type { SwarmNodes, TaskState } from '../../shared/domain/swarm';
import {
  announceScaleOut,
  type CallMemo,
  cancelDrains,
  type GroupOutcome,
  type NodeScaleOutcome,
  scaleIn,
  scaleOut,
} from './apply-node-scale';
import {
  decideNodeScale,
  type NodeScaleDecision,
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

/** The firing node alerts as signed deltas; every other alert as an `ignored` outcome. */
function readRequests(
  webhook: AlertmanagerWebhook,
  override: NodeScaleRequest | undefined,
  step: number,
): { outcomes: NodeScaleOutcome[]; requests: Array<{ ref: string; delta: number }> } {
  const outcomes: NodeScaleOutcome[] = [];
  const requests: Array<{ ref: string; delta: number }> = [];
  webhook.alerts.forEach((alert, i) => {
    const ref = alertRef(alert, i);
    if (alert.status !== 'firing') {
      outcomes.push({
        kind: 'ignored',
        alert: ref,
        reason: 'resolved',
        detail: 'only firing alerts are acted on',
      });
      return;
    }
    const type = alert.labels.type;
    if (type !== undefined && type !== 'node') {
      outcomes.push({
        kind: 'ignored',
        alert: ref,
        reason: 'not-node-alert',
        detail: `type=${quote(type)} is not node`,
      });
      return;
    }
    const word = alert.labels.scale;
    const request = override ?? (word ? parseNodeScale(word) : undefined);
    if (!request) {
      outcomes.push(
        word
          ? {
              kind: 'ignored',
              alert: ref,
              reason: 'invalid-scale-label',
              detail: `scale label ${quote(word)} is not up, down or a non-zero signed integer`,
            }
          : { kind: 'ignored', alert: ref, reason: 'no-scale-label', detail: 'the alert has no scale label' },
      );
      return;
    }
    requests.push({
      ref,
      delta: request.kind === 'delta' ? request.delta : request.direction === 'up' ? step : -step,
    });
  });
  return { outcomes, requests };
}

export async function scaleNodes(
  deps: ScaleNodesDeps,
  input: ScaleNodesInput,
): Promise<{ dryRun: boolean; outcomes: NodeScaleOutcome[]; scaleIns: ScaleInProgress[] }> {
  const { outcomes, requests } = readRequests(input.webhook, input.override, deps.settings.nodeScaleStep);
  if (requests.length === 0) return { dryRun: input.dryRun, outcomes, scaleIns: [] };

  const each = (o: GroupOutcome) => {
    for (const r of requests) outcomes.push({ ...o, alert: r.ref } as NodeScaleOutcome);
  };
  const group = deps.group;
  if (!group) {
    each({
      kind: 'skipped',
      reason: 'no-cloud',
      detail: 'no worker Auto Scaling group is configured (CLOUD=aws and WORKER_ASG_NAME): nothing to scale',
    });
    return { dryRun: input.dryRun, outcomes, scaleIns: [] };
  }
  if (new Set(requests.map((r) => Math.sign(r.delta))).size > 1) {
    each({
      kind: 'skipped',
      reason: 'conflicting-alerts',
      detail: 'alerts in this request ask to scale both up and down',
    });
    return { dryRun: input.dryRun, outcomes, scaleIns: [] };
  }
  const delta = requests.reduce((a, r) => (Math.abs(r.delta) > Math.abs(a) ? r.delta : a), 0);

  // Finish (or abandon) what an earlier scale-in started before deciding anew. A completion that
  // fails for now is reported in `scaleIns`, never thrown into this decision: it concerns
  // another node, and the next call or the sweep finishes it.
  const complete = () => completeScaleIns({ ...deps, group }, input.log, undefined, { failures: 'report' });
  const scaleIns = input.dryRun ? [] : await complete();

  const memo: CallMemo = { acted: false };
  let outcome: GroupOutcome;
  try {
    outcome = await retryAttempt(
      { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
      () => decideAndApply(deps, group, delta, input, memo),
    );
  } catch (error) {
    await giveBackUnusedClaim(deps, group, memo, input.log);
    throw error;
  }
  if (outcome.kind === 'skipped') await giveBackUnusedClaim(deps, group, memo, input.log);
  each(outcome);
  input.log.info('decision', { audit: true, ...outcome });
  // A drained node that had no task can leave right away.
  const finished = outcome.kind === 'draining' ? await complete() : [];
  return { dryRun: input.dryRun, outcomes, scaleIns: [...scaleIns, ...finished] };
}

/** One attempt: read the group, the swarm and its claim; decide; claim; act. */
async function decideAndApply(
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
  if (memo.unanswered && state.desired === memo.unanswered.to) {
    const { from, to } = memo.unanswered;
    memo.acted = true;
    await announceScaleOut(deps, state, from, to);
    return { kind: 'scaled', group: state.name, from, to };
  }
  memo.unanswered = undefined;
  const now = deps.clock.now();
  const claimedAt = othersClaim(swarm.labels, memo.claim);
  const decision = decideNodeScale({
    group: state,
    nodes,
    tasks,
    delta,
    now,
    claimedAt,
    settings: deps.settings,
  });
  if (decision.kind === 'skip') return { kind: 'skipped', reason: decision.reason, detail: decision.detail };
  if (input.dryRun) return { kind: 'skipped', reason: 'dry-run', detail: `would ${plan(decision)}` };
  // One decision at a time across every caller: lose this race and the next attempt reads the winner's claim.
  await claimCooldown(deps.swarm, swarm, now, memo);
  if (decision.kind === 'scale-out') return scaleOut(deps, group, state, decision, memo);
  if (decision.kind === 'cancel-drain') return cancelDrains(deps, state, decision, memo);
  return scaleIn(deps, state, decision, now, memo);
}

function plan(decision: Exclude<NodeScaleDecision, { kind: 'skip' }>): string {
  const names = (nodes: ReadonlyArray<{ hostname: string }>) => nodes.map((n) => n.hostname).join(', ');
  if (decision.kind === 'scale-out') return `scale out from ${decision.from} to ${decision.to}`;
  if (decision.kind === 'cancel-drain') {
    return `cancel the drain of ${names(decision.nodes)} (active again) instead of adding a worker: ${decision.from} to ${decision.to}`;
  }
  return `drain ${names(decision.drain)} and scale in from ${decision.from} to ${decision.to}`;
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
