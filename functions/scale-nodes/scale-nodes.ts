import { type AlertmanagerWebhook, alertRef } from '../../shared/alertmanager';
import type { GroupState, WorkerGroup } from '../../shared/autoscaling';
import type { Logger } from '../../shared/logger';
import { quote } from '../../shared/names';
import type { Notifier } from '../../shared/notifier';
import { retryAttempt } from '../../shared/retry';
import {
  activeTasksByNode,
  completeScaleIns,
  INSTANCE_ID_LABEL,
  pendingScaleIns,
  SCALE_IN_LABEL,
  type ScaleInProgress,
} from '../../shared/scale-in';
import type { NodeState, SwarmNodes, TaskState } from '../../shared/swarm';
import type { DistributiveOmit } from '../../shared/types';

/** `up`/`down` move by NODE_SCALE_STEP; a signed integer is that exact number of workers. */
export type NodeScaleRequest = { kind: 'step'; direction: 'up' | 'down' } | { kind: 'delta'; delta: number };

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

export function parseNodeScale(value: string): NodeScaleRequest | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'up' || v === 'down') return { kind: 'step', direction: v };
  if (!/^[+-]?\d{1,3}$/.test(v)) return undefined;
  const delta = Number(v);
  return delta === 0 ? undefined : { kind: 'delta', delta };
}

export interface NodeScaleSettings {
  nodeScaleCooldownSeconds: number;
  nodeScaleStep: number;
  nodesMin: number;
  nodesMax: number;
}

export type NodeScaleDecision =
  | { kind: 'scale-out'; from: number; to: number }
  | { kind: 'scale-in'; from: number; to: number; drain: NodeState[] }
  | {
      kind: 'skip';
      reason: 'cooldown' | 'at-max' | 'at-min' | 'scale-in-pending' | 'no-candidate';
      detail: string;
    };

/** The bounds: the group's own, narrowed by NODES_MIN / NODES_MAX when set. */
export function bounds(group: GroupState, settings: NodeScaleSettings): { min: number; max: number } {
  const min = Math.max(group.min, settings.nodesMin);
  const max = settings.nodesMax > 0 ? Math.min(group.max, settings.nodesMax) : group.max;
  return { min, max };
}

/**
 * Workers that may leave: Ready, active, not already leaving, and running an instance of
 * this group; fewest running tasks first (the cheapest to drain), then the newest.
 */
export function scaleInCandidates(
  nodes: readonly NodeState[],
  tasks: readonly TaskState[],
  group: GroupState,
): NodeState[] {
  const counts = activeTasksByNode(tasks);
  const members = new Set(group.instances);
  return nodes
    .filter(
      (n) =>
        n.role === 'worker' &&
        n.state === 'ready' &&
        n.availability === 'active' &&
        n.labels[SCALE_IN_LABEL] === undefined &&
        members.has(n.engineLabels[INSTANCE_ID_LABEL] ?? ''),
    )
    .sort(
      (a, b) =>
        (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) ||
        b.createdAt.getTime() - a.createdAt.getTime() ||
        a.hostname.localeCompare(b.hostname),
    );
}

/** One decision for the worker group, from one read of it and of the swarm. */
export function decideNodeScale(input: {
  group: GroupState;
  nodes: readonly NodeState[];
  tasks: readonly TaskState[];
  delta: number;
  now: Date;
  settings: NodeScaleSettings;
}): NodeScaleDecision {
  const { group, settings, delta } = input;
  if (pendingScaleIns(input.nodes).length > 0) {
    return {
      kind: 'skip',
      reason: 'scale-in-pending',
      detail: 'a worker is still draining from the last scale-in; it finishes first',
    };
  }
  const last = group.lastActivityAt?.getTime();
  if (last !== undefined && input.now.getTime() - last < settings.nodeScaleCooldownSeconds * 1_000) {
    const until = new Date(last + settings.nodeScaleCooldownSeconds * 1_000).toISOString();
    return {
      kind: 'skip',
      reason: 'cooldown',
      detail: `the group changed recently; cooling down until ${until}`,
    };
  }
  const { min, max } = bounds(group, settings);
  const from = group.desired;
  if (delta > 0) {
    const to = Math.min(max, from + delta);
    if (to <= from)
      return { kind: 'skip', reason: 'at-max', detail: `${from} workers; the maximum is ${max}` };
    return { kind: 'scale-out', from, to };
  }
  const to = Math.max(min, from + delta);
  if (to >= from) return { kind: 'skip', reason: 'at-min', detail: `${from} workers; the minimum is ${min}` };
  const drain = scaleInCandidates(input.nodes, input.tasks, group).slice(0, from - to);
  if (drain.length === 0) {
    return {
      kind: 'skip',
      reason: 'no-candidate',
      detail: 'no Ready, active worker of this group can be drained',
    };
  }
  return { kind: 'scale-in', from, to: from - drain.length, drain };
}

export interface ScaleNodesDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'removeNode'>;
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

export async function scaleNodes(
  deps: ScaleNodesDeps,
  input: ScaleNodesInput,
): Promise<{ dryRun: boolean; outcomes: NodeScaleOutcome[]; scaleIns: ScaleInProgress[] }> {
  const outcomes: NodeScaleOutcome[] = [];
  const requests: Array<{ ref: string; delta: number }> = [];
  input.webhook.alerts.forEach((alert, i) => {
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
    const request = input.override ?? (word ? parseNodeScale(word) : undefined);
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
    const step = deps.settings.nodeScaleStep;
    requests.push({
      ref,
      delta: request.kind === 'delta' ? request.delta : request.direction === 'up' ? step : -step,
    });
  });
  if (requests.length === 0) return { dryRun: input.dryRun, outcomes, scaleIns: [] };

  const each = (o: DistributiveOmit<NodeScaleOutcome, 'alert'>) => {
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

  const announceScaleOut = (state: GroupState, from: number, to: number) =>
    deps.notifier.notify({
      severity: 'info',
      title: `Scaling workers out: ${from} → ${to}`,
      text: `${state.name} grows; new nodes join with the tokens in SSM.`,
    });
  // A capacity change whose answer was lost (Auto Scaling applied it, then the call failed)
  // shows on the re-read as the capacity we set: that is our scale-out, not someone's cooldown.
  let unanswered: { from: number; to: number } | undefined;
  const outcome = await retryAttempt(
    { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
    async (): Promise<DistributiveOmit<NodeScaleOutcome, 'alert'>> => {
      const [state, nodes, tasks] = await Promise.all([
        group.describe(),
        deps.swarm.listNodes(),
        deps.tasks.listTasks(),
      ]);
      if (unanswered && state.desired === unanswered.to) {
        await announceScaleOut(state, unanswered.from, unanswered.to);
        return { kind: 'scaled', group: state.name, from: unanswered.from, to: unanswered.to };
      }
      unanswered = undefined;
      const now = deps.clock.now();
      const decision = decideNodeScale({ group: state, nodes, tasks, delta, now, settings: deps.settings });
      if (decision.kind === 'skip')
        return { kind: 'skipped', reason: decision.reason, detail: decision.detail };
      const drained = decision.kind === 'scale-in' ? decision.drain.map((n) => n.hostname) : [];
      if (input.dryRun) {
        const what = decision.kind === 'scale-out' ? 'scale out' : `drain ${drained.join(', ')} and scale in`;
        return {
          kind: 'skipped',
          reason: 'dry-run',
          detail: `would ${what} from ${decision.from} to ${decision.to}`,
        };
      }
      if (decision.kind === 'scale-out') {
        unanswered = { from: decision.from, to: decision.to };
        await group.setDesired(decision.to);
        unanswered = undefined;
        await announceScaleOut(state, decision.from, decision.to);
        return { kind: 'scaled', group: state.name, from: decision.from, to: decision.to };
      }
      for (const node of decision.drain) {
        await deps.swarm.updateNode(node, {
          availability: 'drain',
          labels: { [SCALE_IN_LABEL]: now.toISOString() },
        });
      }
      await deps.notifier.notify({
        severity: 'info',
        title: `Scaling workers in: draining ${drained.join(', ')}`,
        text: `${state.name} shrinks from ${decision.from} to ${decision.to} once the drained node${drained.length > 1 ? 's run' : ' runs'} no task.`,
      });
      return { kind: 'draining', group: state.name, from: decision.from, to: decision.to, nodes: drained };
    },
  );
  each(outcome);
  input.log.info('decision', { audit: true, ...outcome });
  // A drained node that had no task can leave right away.
  const finished = outcome.kind === 'draining' ? await completeScaleIns({ ...deps, group }, input.log) : [];
  return { dryRun: input.dryRun, outcomes, scaleIns: [...scaleIns, ...finished] };
}
