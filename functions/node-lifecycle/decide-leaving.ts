import {
  INSTANCE_ID_LABEL,
  LEAVING_CLAIM_LABEL,
  LEAVING_HEARTBEAT_LABEL,
  LEAVING_HELD_LABEL,
  LEAVING_LABEL,
} from '../../shared/domain/labels';
import { isDeparture, type Leaving, leavingClaimed } from '../../shared/domain/leaving';
import type { LifecycleAction } from '../../shared/domain/lifecycle';
import { managerLossRefusal, QUORUM_RECOVERY_PROCEDURE } from '../../shared/domain/quorum';
import type { NodeState } from '../../shared/domain/swarm';
import { claimStep, completeSteps, notice, outcome, plan } from './plan';
import { type Decision, type LifecycleSettings, type Ref, refOf, type Step } from './types';

/** A hook the node's instance waits in now, and how long a wait lasts without a heartbeat (unknown: none sent). */
export interface Wait {
  action: LifecycleAction;
  heartbeatTimeoutSeconds: number | undefined;
}

/** One labelled node, as one read of the swarm (and of Auto Scaling, for its waits) shows it. */
export interface LeavingView {
  node: NodeState;
  leaving: Leaving;
  nodes: readonly NodeState[];
  /** Tasks that still occupy it. */
  tasks: number;
  /** The terminate hooks of ours its instance waits in (Terminating:Wait); empty when it waits in none. */
  waits: readonly Wait[];
  /**
   * Auto Scaling was read in this pass and lists its instance in a terminating wait (held by
   * another tool's hook when `waits` is empty). A label alone never says so: it may be stale.
   */
  terminating?: boolean;
  now: Date;
}

type Settings = Pick<LifecycleSettings, 'lifecycleDrainTimeoutSeconds' | 'scheduledDrainLeadSeconds'>;

/**
 * What a leaving node needs now: removed once it is down (departures only), leaving the swarm
 * and its hook completed once it is empty or its drain timed out, a heartbeat while it drains,
 * a drain when its maintenance window comes near. Pure: the read in, one plan out.
 */
export function decideLeaving(v: LeavingView, settings: Settings): Decision {
  const { node, leaving, now } = v;
  const ref = refOf(node.engineLabels[INSTANCE_ID_LABEL] ?? v.waits[0]?.action.instance, node);
  if (leavingClaimed(node.labels, now)) {
    return outcome({
      ...ref,
      kind: 'skipped',
      reason: 'in-progress',
      detail: 'another caller is removing it',
    });
  }
  if (node.state === 'down' && isDeparture(leaving.cause)) return decideGone(v, ref);
  // AWS is terminating its instance (held by a hook of ours, or only by another tool's): it
  // leaves once empty, a manager demoted first while quorum allows.
  if (v.waits.length > 0 || v.terminating === true) return decideTerminating(v, ref, settings);
  if (leaving.cause === 'scheduled') return decideScheduled(v, ref, settings);
  const detail = `${node.hostname} is leaving (${leaving.cause} since ${leaving.since.toISOString()}); it is removed once Swarm marks it down`;
  return outcome({ ...ref, kind: 'waiting', reason: 'leaving', detail });
}

/** Down, and its instance is going for certain: out of the swarm at once, no grace period, not a failure. */
function decideGone(v: LeavingView, ref: Ref): Decision {
  const { node, leaving } = v;
  if (node.role === 'manager') return demoteOrHold(v, ref);
  const detail = `${node.hostname} is down and its instance is going (${leaving.cause}): removed from the swarm${v.waits.length > 0 ? ', its hook completed' : ''}`;
  return plan(ref, { kind: 'acted', reason: v.waits.length > 0 ? 'left' : 'removed' }, detail, [
    claimStep(node, v.now),
    // Without force: swarmkit refuses a node that is Ready again.
    { kind: 'remove', node, force: false },
    ...completeSteps(
      v.waits.map((w) => w.action),
      'CONTINUE',
    ),
    notice('info', `Removed ${node.hostname}: its instance is gone (${leaving.cause})`, `${detail}.`),
  ]);
}

/** Its instance waits in a terminate hook: it leaves once empty (or drained for too long). */
function decideTerminating(v: LeavingView, ref: Ref, settings: Settings): Decision {
  const { node, leaving, now } = v;
  const timeoutMs = settings.lifecycleDrainTimeoutSeconds * 1_000;
  const drainingFor = now.getTime() - leaving.since.getTime();
  if (v.tasks > 0 && drainingFor < timeoutMs) {
    const detail = `${v.tasks} task(s) still on ${node.hostname}, draining since ${leaving.since.toISOString()}`;
    const steps = keepWaiting(v, undefined);
    if (steps.length === 0) return outcome({ ...ref, kind: 'waiting', reason: 'tasks-left', detail });
    return plan(ref, { kind: 'waiting', reason: 'tasks-left' }, `${detail}; heartbeat`, steps);
  }
  if (node.role === 'manager') return demoteOrHold(v, ref);
  const late =
    v.tasks > 0
      ? ` after LIFECYCLE_DRAIN_TIMEOUT_SECONDS (${settings.lifecycleDrainTimeoutSeconds} s) with ${v.tasks} task(s) still on it`
      : '';
  const actions = v.waits.map((w) => w.action);
  const hooks =
    actions.length > 0
      ? `${actions.map((a) => a.hook).join(', ')} completed with CONTINUE for ${actions[0]?.instance}`
      : 'its instance waits in no hook of ours (LIFECYCLE_HOOKS): nothing to complete';
  const detail = `${node.hostname} left the swarm${late}; ${hooks}`;
  return plan(ref, { kind: 'acted', reason: 'left' }, detail, [
    claimStep(node, now),
    // Its instance still runs (it waits for us), so Swarm sees it Ready: force.
    { kind: 'remove', node, force: true },
    ...completeSteps(actions, 'CONTINUE'),
    notice(
      late ? 'warning' : 'info',
      `${node.hostname} left the swarm before AWS takes its instance`,
      `${detail}.`,
    ),
  ]);
}

/** A manager stops being one only while the other managers keep a majority; else it stays, and people are told once. */
function demoteOrHold(v: LeavingView, ref: Ref): Decision {
  const { node } = v;
  const refusal = managerLossRefusal(v.nodes, node);
  if (refusal === undefined) {
    const detail = `demoted manager ${node.hostname} (the others keep a majority); it leaves the swarm in the next pass`;
    return plan(ref, { kind: 'acted', reason: 'demoted' }, detail, [
      { kind: 'demote', node },
      notice('info', `Demoted leaving manager ${node.hostname}`, `${detail}.`),
    ]);
  }
  const detail = `${node.hostname} stays a manager (drained): ${refusal}`;
  const steps = keepWaiting(v, detail);
  if (steps.length === 0) return outcome({ ...ref, kind: 'waiting', reason: 'quorum-at-risk', detail });
  return plan(ref, { kind: 'waiting', reason: 'quorum-at-risk' }, detail, steps);
}

/** Heartbeats that are due, and (once) the critical message for a held manager; one note records both. */
function keepWaiting(v: LeavingView, held: string | undefined): Step[] {
  const { node, now } = v;
  const last = Date.parse(node.labels[LEAVING_HEARTBEAT_LABEL] ?? '') || v.leaving.since.getTime();
  // Half the hook's heartbeat timeout: at most two heartbeats per timeout, and a few missed
  // passes still leave time before the hook's default result applies.
  const due = v.waits.filter(
    (w) =>
      w.heartbeatTimeoutSeconds !== undefined &&
      now.getTime() - last >= (w.heartbeatTimeoutSeconds * 1_000) / 2,
  );
  const steps: Step[] = due.map((w) => ({ kind: 'heartbeat', action: w.action }));
  const labels: Record<string, string> = {};
  if (due.length > 0) labels[LEAVING_HEARTBEAT_LABEL] = now.toISOString();
  if (held !== undefined && node.labels[LEAVING_HELD_LABEL] === undefined) {
    const instance = v.waits[0]?.action.instance;
    const kept = instance
      ? `Its instance ${instance} is kept waiting in its terminate hook (heartbeats) until that is safe or the hook times out`
      : `Nothing of ours holds its instance ${node.engineLabels[INSTANCE_ID_LABEL] ?? ''} (no hook in LIFECYCLE_HOOKS): AWS may terminate it at any moment, still a manager`;
    const text = `${held} ${kept}; nothing was demoted or removed. ${QUORUM_RECOVERY_PROCEDURE}`;
    steps.push(notice('critical', `Leaving manager ${node.hostname} cannot be demoted safely`, text));
    labels[LEAVING_HELD_LABEL] = now.toISOString();
  }
  if (Object.keys(labels).length > 0) {
    steps.push({
      kind: 'update',
      purpose: 'note',
      node,
      labels,
      says: `note on ${node.hostname}: ${Object.keys(labels).join(', ')}`,
    });
  }
  return steps;
}

/** AWS Health maintenance: drained when the window is near, handed back when it is over and the node is Ready. */
function decideScheduled(v: LeavingView, ref: Ref, settings: Settings): Decision {
  const { node, leaving, now } = v;
  const window = leaving.window;
  if (!window)
    return outcome({ ...ref, kind: 'waiting', reason: 'leaving', detail: 'no maintenance window known' });
  const shown = `${window.start.toISOString()}${window.end ? ` to ${window.end.toISOString()}` : ''}`;
  if (window.end && now >= window.end && node.state === 'ready') {
    const detail = `the maintenance window of ${node.hostname} (${shown}) is over and it is Ready: it takes tasks again`;
    const labels = {
      [LEAVING_LABEL]: undefined,
      [LEAVING_HEARTBEAT_LABEL]: undefined,
      [LEAVING_CLAIM_LABEL]: undefined,
    };
    return plan(ref, { kind: 'acted', reason: 'handed-back' }, detail, [
      {
        kind: 'update',
        purpose: 'leave',
        node,
        labels,
        availability: 'active',
        says: `make ${node.hostname} active again`,
      },
      notice('info', `${node.hostname} is back after its maintenance window`, `${detail}.`),
    ]);
  }
  const lead = settings.scheduledDrainLeadSeconds * 1_000;
  if (node.availability !== 'drain' && window.start.getTime() - now.getTime() <= lead) {
    const detail = `the maintenance window of ${node.hostname} starts ${shown}: drained ahead of it`;
    return plan(ref, { kind: 'acted', reason: 'drained' }, detail, [
      {
        kind: 'update',
        purpose: 'leave',
        node,
        labels: {},
        availability: 'drain',
        says: `drain ${node.hostname}`,
      },
      notice('warning', `Draining ${node.hostname} ahead of AWS maintenance`, `${detail}.`),
    ]);
  }
  const detail = `maintenance window of ${node.hostname}: ${shown}`;
  return outcome({ ...ref, kind: 'waiting', reason: 'before-window', detail });
}
