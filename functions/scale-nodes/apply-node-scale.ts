import type { IgnoredAlert } from '../../shared/domain/alerts';
import type { GroupState, WorkerGroup } from '../../shared/domain/cloud';
import { VersionConflictError } from '../../shared/domain/errors';
import { SCALE_IN_LABEL } from '../../shared/domain/labels';
import type { Notifier } from '../../shared/domain/notice';
import { handBack } from '../../shared/domain/scale-in';
import type { SwarmNodes } from '../../shared/domain/swarm';
import type { DistributiveOmit } from '../../shared/domain/types';
import type { NodeScaleDecision } from './decide-node-scale';
import type { OwnClaim } from './node-scale-claim';

export type NodeScaleOutcome =
  | { kind: 'scaled'; alert: string; group: string; from: number; to: number }
  /**
   * A scale-up served by cancelling drains: `nodes` take tasks again; `from` → `to` is the
   * capacity the group was heading for and the one it keeps. Its desired capacity is unchanged.
   */
  | {
      kind: 'scaled';
      reason: 'drain-cancelled';
      alert: string;
      group: string;
      from: number;
      to: number;
      nodes: string[];
    }
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
  | IgnoredAlert<'resolved' | 'no-scale-label' | 'invalid-scale-label' | 'not-node-alert'>;

export type GroupOutcome = DistributiveOmit<NodeScaleOutcome, 'alert'>;

/** What one call remembers across its own attempts. */
export interface CallMemo {
  /**
   * A capacity change whose answer was lost (Auto Scaling applied it, then the call failed)
   * shows on the re-read as the capacity we set: that is our scale-out, not someone's cooldown.
   */
  unanswered?: { from: number; to: number };
  /** The node-scale claim this call wrote (recorded before the write): its own retries are not cooled down by it. */
  claim?: OwnClaim;
  /** A change went through (capacity set, a worker drained or handed back): the claim stays whatever happens next. */
  acted: boolean;
}

export interface ApplyDeps {
  swarm: Pick<SwarmNodes, 'updateNode'>;
  notifier: Notifier;
}

/**
 * Applies the plan that was decided, after its claim: exactly the change `describePlan` shows.
 */
export function applyPlan(
  deps: ApplyDeps,
  group: WorkerGroup,
  state: GroupState,
  plan: Exclude<NodeScaleDecision, { kind: 'skip' }>,
  now: Date,
  memo: CallMemo,
): Promise<GroupOutcome> {
  if (plan.kind === 'scale-out') return scaleOut(deps, group, state, plan, memo);
  if (plan.kind === 'cancel-drain') return cancelDrains(deps, state, plan, memo);
  return scaleIn(deps, state, plan, now, memo);
}

/** Our own scale-out whose answer was lost, recognised on the re-read by the capacity it set. */
export async function recogniseUnanswered(
  deps: ApplyDeps,
  state: GroupState,
  memo: CallMemo,
): Promise<GroupOutcome | undefined> {
  if (memo.unanswered && state.desired === memo.unanswered.to) {
    const { from, to } = memo.unanswered;
    memo.acted = true;
    await announceScaleOut(deps, state, from, to);
    return { kind: 'scaled', group: state.name, from, to };
  }
  memo.unanswered = undefined;
  return undefined;
}

async function scaleOut(
  deps: ApplyDeps,
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
  deps: ApplyDeps,
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

/** Each drained worker becomes active again (versioned): cheaper and faster than a new node. */
async function cancelDrains(
  deps: ApplyDeps,
  state: GroupState,
  decision: Extract<NodeScaleDecision, { kind: 'cancel-drain' }>,
  memo: CallMemo,
): Promise<GroupOutcome> {
  const names = decision.nodes.map((n) => n.hostname);
  for (const node of decision.nodes) {
    await handBack(deps.swarm, node);
    memo.acted = true;
  }
  await deps.notifier.notify({
    severity: 'info',
    title: `Scale-in cancelled for a scale-up: ${names.join(', ')} active again`,
    text: `${names.join(', ')} ${names.length > 1 ? 'were' : 'was'} draining to leave ${state.name}; ${names.length > 1 ? 'they take' : 'it takes'} tasks again instead of a new node being launched. The group keeps ${decision.to} workers; a scale-up still firing after the cooldown adds a node.`,
  });
  return {
    kind: 'scaled',
    reason: 'drain-cancelled',
    group: state.name,
    from: decision.from,
    to: decision.to,
    nodes: names,
  };
}

function announceScaleOut(deps: ApplyDeps, state: GroupState, from: number, to: number) {
  return deps.notifier.notify({
    severity: 'info',
    title: `Scaling workers out: ${from} → ${to}`,
    text: `${state.name} grows; new nodes join with the tokens in SSM.`,
  });
}
