import { parseScaleWord, type ScaleRequest } from '../../shared/domain/alerts';
import type { GroupState } from '../../shared/domain/cloud';
import { INSTANCE_ID_LABEL, SCALE_IN_LABEL } from '../../shared/domain/labels';
import { type OptOut, optOutOf } from '../../shared/domain/opt-out';
import { activeTasksByNode, isClaimed, pendingScaleIns } from '../../shared/domain/scale-in';
import type { NodeState, TaskState } from '../../shared/domain/swarm';

/** `up`/`down` move by NODE_SCALE_STEP; a signed integer is that exact number of workers. */
export type NodeScaleRequest = ScaleRequest;

/** A scale word for nodes: at most 999 workers at once. */
export const parseNodeScale = (value: string): NodeScaleRequest | undefined => parseScaleWord(value, 3);

export interface NodeScaleSettings {
  nodeScaleCooldownSeconds: number;
  nodeScaleStep: number;
  /** The most workers one scale-in drains (NODE_SCALE_IN_MAX). */
  nodeScaleInMax: number;
  nodesMin: number;
  nodesMax: number;
  /** How long a drained worker may keep tasks before its scale-in is abandoned (SCALE_IN_DRAIN_TIMEOUT_SECONDS). */
  scaleInDrainTimeoutSeconds: number;
}

export type NodeScaleDecision =
  | { kind: 'scale-out'; from: number; to: number }
  | { kind: 'scale-in'; from: number; to: number; drain: NodeState[] }
  /** A scale-up while workers drain: they take tasks again instead of a new node being launched. */
  | { kind: 'cancel-drain'; from: number; to: number; nodes: NodeState[] }
  | {
      kind: 'skip';
      reason: 'cooldown' | 'at-max' | 'at-min' | 'scale-in-pending' | 'no-candidate';
      detail: string;
    };

/** Several alerts, one step: the largest one, if they all ask for one direction; undefined if not. */
export function combineDeltas(deltas: readonly number[]): number | undefined {
  if (new Set(deltas.map((d) => Math.sign(d))).size > 1) return undefined;
  return deltas.reduce((a, d) => (Math.abs(d) > Math.abs(a) ? d : a), 0);
}

/** The bounds: the group's own, narrowed by NODES_MIN / NODES_MAX when set. */
export function bounds(group: GroupState, settings: NodeScaleSettings): { min: number; max: number } {
  const min = Math.max(group.min, settings.nodesMin);
  const max = settings.nodesMax > 0 ? Math.min(group.max, settings.nodesMax) : group.max;
  return { min, max };
}

/** The group's workers a person opted out (excluded, drained or paused by hand, in Standby): never candidates. */
export function optedOutWorkers(
  nodes: readonly NodeState[],
  group: GroupState,
): Array<{ node: NodeState; optOut: OptOut }> {
  const members = new Set(group.instances);
  const standby = new Set(group.standby ?? []);
  return nodes.flatMap((node) => {
    const instance = node.engineLabels[INSTANCE_ID_LABEL] ?? '';
    if (node.role !== 'worker' || !members.has(instance)) return [];
    const optOut = optOutOf(node, standby.has(instance) ? 'Standby' : undefined);
    return optOut ? [{ node, optOut }] : [];
  });
}

/**
 * Workers that may leave: Ready, active, not already leaving, not opted out by a person, and
 * running an instance of this group; fewest running tasks first (the cheapest to drain), then
 * the newest.
 */
export function scaleInCandidates(
  nodes: readonly NodeState[],
  tasks: readonly TaskState[],
  group: GroupState,
): NodeState[] {
  const counts = activeTasksByNode(tasks);
  const members = new Set(group.instances);
  const optedOut = new Set(optedOutWorkers(nodes, group).map((o) => o.node.id));
  return nodes
    .filter(
      (n) =>
        n.role === 'worker' &&
        n.state === 'ready' &&
        n.availability === 'active' &&
        n.labels[SCALE_IN_LABEL] === undefined &&
        !optedOut.has(n.id) &&
        members.has(n.engineLabels[INSTANCE_ID_LABEL] ?? ''),
    )
    .sort(
      (a, b) =>
        (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) ||
        b.createdAt.getTime() - a.createdAt.getTime() ||
        a.hostname.localeCompare(b.hostname),
    );
}

/**
 * The cooldown runs from the later of the group's last scaling activity and the last
 * node-scale claim on the swarm: Auto Scaling lists an activity only seconds after the
 * change, and the claim covers that gap (and a scale-in that has not reached Auto Scaling yet).
 */
function cooldownDetail(
  group: GroupState,
  claimedAt: Date | undefined,
  now: Date,
  settings: NodeScaleSettings,
): string | undefined {
  const activity = group.lastActivityAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  const claim = claimedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  const since = Math.max(activity, claim);
  const until = since + settings.nodeScaleCooldownSeconds * 1_000;
  if (!Number.isFinite(since) || now.getTime() >= until) return undefined;
  const what =
    claim > activity
      ? `another call decided to change the group at ${new Date(claim).toISOString()}`
      : 'the group changed recently';
  return `${what}; cooling down until ${new Date(until).toISOString()}`;
}

/**
 * A scale-up while workers drain cancels drains first — up to the workers asked for, those
 * with the most tasks left (the least drained) first — and that is the step: the group's
 * capacity is not changed. A worker whose instance is being terminated right now (claimed) is
 * leaving and is not cancelled. The cancel is cooled down only by a decision claimed after the
 * drain began (a concurrent scale-up that cancelled it already), never by the scale-in itself.
 */
function decideCancel(input: DecisionInput, pending: readonly NodeState[]): NodeScaleDecision | undefined {
  const counts = activeTasksByNode(input.tasks);
  const cancellable = pending
    .filter((n) => !isClaimed(n, input.now))
    .sort(
      (a, b) =>
        (counts.get(b.id) ?? 0) - (counts.get(a.id) ?? 0) ||
        (b.labels[SCALE_IN_LABEL] ?? '').localeCompare(a.labels[SCALE_IN_LABEL] ?? ''),
    );
  if (cancellable.length === 0) return undefined;
  const began = Math.max(...cancellable.map((n) => Date.parse(n.labels[SCALE_IN_LABEL] ?? '') || 0));
  const claim = input.claimedAt?.getTime();
  if (claim !== undefined && claim > began) {
    const until = new Date(claim + input.settings.nodeScaleCooldownSeconds * 1_000);
    if (input.now < until) {
      return {
        kind: 'skip',
        reason: 'cooldown',
        detail: `another call decided to change the group at ${new Date(claim).toISOString()}; cooling down until ${until.toISOString()}`,
      };
    }
  }
  const nodes = cancellable.slice(0, input.delta);
  const from = input.group.desired - pending.length;
  return { kind: 'cancel-drain', from, to: from + nodes.length, nodes };
}

interface DecisionInput {
  group: GroupState;
  nodes: readonly NodeState[];
  tasks: readonly TaskState[];
  delta: number;
  now: Date;
  /** The node-scale claim on the swarm written by another call, if any. */
  claimedAt?: Date | undefined;
  settings: NodeScaleSettings;
}

/** One decision for the worker group, from one read of it, of the swarm and of the claim on it. */
export function decideNodeScale(input: DecisionInput): NodeScaleDecision {
  const { group, settings, delta } = input;
  const pending = pendingScaleIns(input.nodes);
  if (delta > 0) {
    const cancel = decideCancel(input, pending);
    if (cancel) return cancel;
  } else if (pending.length > 0) {
    return {
      kind: 'skip',
      reason: 'scale-in-pending',
      detail: 'a worker is still draining from the last scale-in; it finishes first',
    };
  }
  const cooling = cooldownDetail(group, input.claimedAt, input.now, settings);
  if (cooling) return { kind: 'skip', reason: 'cooldown', detail: cooling };
  const { min, max } = bounds(group, settings);
  const from = group.desired;
  if (delta > 0) {
    const to = Math.min(max, from + delta);
    if (to <= from)
      return { kind: 'skip', reason: 'at-max', detail: `${from} workers; the maximum is ${max}` };
    return { kind: 'scale-out', from, to };
  }
  const floor = Math.max(min, from + delta);
  if (floor >= from)
    return { kind: 'skip', reason: 'at-min', detail: `${from} workers; the minimum is ${min}` };
  // Never more than NODE_SCALE_IN_MAX at once, whatever was asked: `scale=-999` is one step.
  const count = Math.min(from - floor, settings.nodeScaleInMax);
  const drain = scaleInCandidates(input.nodes, input.tasks, group).slice(0, count);
  if (drain.length === 0) {
    const optedOut = optedOutWorkers(input.nodes, group).map(
      ({ node, optOut }) => `${node.hostname} (${optOut.reason})`,
    );
    const others = optedOut.length > 0 ? `; opted out by a person: ${optedOut.join(', ')}` : '';
    return {
      kind: 'skip',
      reason: 'no-candidate',
      detail: `no Ready, active worker of this group can be drained${others}`,
    };
  }
  return { kind: 'scale-in', from, to: from - drain.length, drain };
}

/** A decision to act, told as the plan a dry run shows: `applyPlan` carries out exactly this. */
export function describePlan(plan: Exclude<NodeScaleDecision, { kind: 'skip' }>): string {
  const names = (nodes: ReadonlyArray<{ hostname: string }>) => nodes.map((n) => n.hostname).join(', ');
  if (plan.kind === 'scale-out') return `scale out from ${plan.from} to ${plan.to}`;
  if (plan.kind === 'cancel-drain') {
    return `cancel the drain of ${names(plan.nodes)} (active again) instead of adding a worker: ${plan.from} to ${plan.to}`;
  }
  return `drain ${names(plan.drain)} and scale in from ${plan.from} to ${plan.to}`;
}
