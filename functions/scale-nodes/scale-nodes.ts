import { type AlertmanagerWebhook, alertRef } from '../../shared/alertmanager';
import type { GroupState, WorkerGroup } from '../../shared/autoscaling';
import { VersionConflictError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { quote } from '../../shared/names';
import type { Notifier } from '../../shared/notifier';
import { retryAttempt } from '../../shared/retry';
import { completeScaleIns, SCALE_IN_LABEL, type ScaleInProgress } from '../../shared/scale-in';
import type { SwarmNodes, TaskState } from '../../shared/swarm';
import type { DistributiveOmit } from '../../shared/types';
import {
  decideNodeScale,
  type NodeScaleDecision,
  type NodeScaleRequest,
  type NodeScaleSettings,
  parseNodeScale,
} from './decide-node-scale';
import { claimCooldown, type OwnClaim, othersClaim, releaseCooldown } from './node-scale-claim';

export type NodeScaleOutcome =
  | { kind: 'scaled'; alert: string; group: string; from: number; to: number }
  | { kind: 'draining'; alert: string; group: string; from: number; to: number; nodes: string[] }
  | {
      kind: 'skipped';
      alert: string;
      reason:
        | 'cooldown'
        | 'at-max'
        | 'at-min'
        | 'scale-in-pending'
        | 'no-candidate'
        | 'conflicting-alerts'
        | 'dry-run'
        | 'no-cloud';
      detail: string;
    }
  | {
      kind: 'ignored';
      alert: string;
      reason: 'resolved' | 'no-scale-label' | 'invalid-scale-label' | 'not-node-alert';
      detail: string;
    };

type GroupOutcome = DistributiveOmit<NodeScaleOutcome, 'alert'>;

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

  // Finish what an earlier scale-in started before deciding anew.
  const scaleIns = input.dryRun ? [] : await completeScaleIns({ ...deps, group }, input.log);

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
  const finished = outcome.kind === 'draining' ? await completeScaleIns({ ...deps, group }, input.log) : [];
  return { dryRun: input.dryRun, outcomes, scaleIns: [...scaleIns, ...finished] };
}

/** What one call remembers across its own attempts. */
interface CallMemo {
  /**
   * A capacity change whose answer was lost (Auto Scaling applied it, then the call failed)
   * shows on the re-read as the capacity we set: that is our scale-out, not someone's cooldown.
   */
  unanswered?: { from: number; to: number };
  /** The node-scale claim this call wrote: its own retries are not cooled down by it. */
  claim?: OwnClaim;
  /** A change went through (capacity set, a worker drained): the claim stays whatever happens next. */
  acted: boolean;
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
  if (input.dryRun) {
    const what =
      decision.kind === 'scale-out'
        ? 'scale out'
        : `drain ${decision.drain.map((n) => n.hostname).join(', ')} and scale in`;
    return {
      kind: 'skipped',
      reason: 'dry-run',
      detail: `would ${what} from ${decision.from} to ${decision.to}`,
    };
  }
  // One decision at a time across every caller: lose this race and the next attempt reads the winner's claim.
  memo.claim = await claimCooldown(deps.swarm, swarm, now, memo.claim);
  return decision.kind === 'scale-out'
    ? scaleOut(deps, group, state, decision, memo)
    : scaleIn(deps, state, decision, now, memo);
}

async function scaleOut(
  deps: ScaleNodesDeps,
  group: WorkerGroup,
  read: GroupState,
  decision: Extract<NodeScaleDecision, { kind: 'scale-out' }>,
  memo: CallMemo,
): Promise<GroupOutcome> {
  // SetDesiredCapacity is absolute and unconditional: read the group again right before it, and
  // decide again if someone changed it since, so that a scale-out never lowers the capacity.
  const fresh = await group.describe();
  if (fresh.desired !== read.desired) {
    throw new VersionConflictError(
      `the desired capacity of ${read.name} changed from ${read.desired} to ${fresh.desired} since it was read`,
    );
  }
  memo.unanswered = { from: decision.from, to: decision.to };
  await group.setDesired(decision.to);
  memo.unanswered = undefined;
  memo.acted = true;
  await announceScaleOut(deps, read, decision.from, decision.to);
  return { kind: 'scaled', group: read.name, from: decision.from, to: decision.to };
}

async function scaleIn(
  deps: ScaleNodesDeps,
  state: GroupState,
  decision: Extract<NodeScaleDecision, { kind: 'scale-in' }>,
  now: Date,
  memo: CallMemo,
): Promise<GroupOutcome> {
  const drained = decision.drain.map((n) => n.hostname);
  for (const node of decision.drain) {
    await deps.swarm.updateNode(node, {
      availability: 'drain',
      labels: { [SCALE_IN_LABEL]: now.toISOString() },
    });
    memo.acted = true;
  }
  await deps.notifier.notify({
    severity: 'info',
    title: `Scaling workers in: draining ${drained.join(', ')}`,
    text: `${state.name} shrinks from ${decision.from} to ${decision.to} once the drained node${drained.length > 1 ? 's run' : ' runs'} no task.`,
  });
  return { kind: 'draining', group: state.name, from: decision.from, to: decision.to, nodes: drained };
}

function announceScaleOut(deps: ScaleNodesDeps, state: GroupState, from: number, to: number) {
  return deps.notifier.notify({
    severity: 'info',
    title: `Scaling workers out: ${from} → ${to}`,
    text: `${state.name} grows; new nodes join with the tokens in SSM.`,
  });
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
