import type { GroupState } from '../../shared/autoscaling';
import { activeTasksByNode, INSTANCE_ID_LABEL, pendingScaleIns, SCALE_IN_LABEL } from '../../shared/scale-in';
import type { NodeState, TaskState } from '../../shared/swarm';

/** `up`/`down` move by NODE_SCALE_STEP; a signed integer is that exact number of workers. */
export type NodeScaleRequest = { kind: 'step'; direction: 'up' | 'down' } | { kind: 'delta'; delta: number };

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
  /** The most workers one scale-in drains (NODE_SCALE_IN_MAX). */
  nodeScaleInMax: number;
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

/** One decision for the worker group, from one read of it, of the swarm and of the claim on it. */
export function decideNodeScale(input: {
  group: GroupState;
  nodes: readonly NodeState[];
  tasks: readonly TaskState[];
  delta: number;
  now: Date;
  /** The node-scale claim on the swarm written by another call, if any. */
  claimedAt?: Date | undefined;
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
    return {
      kind: 'skip',
      reason: 'no-candidate',
      detail: 'no Ready, active worker of this group can be drained',
    };
  }
  return { kind: 'scale-in', from, to: from - drain.length, drain };
}
