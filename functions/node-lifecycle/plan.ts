import { LEAVING_CLAIM_LABEL, LEAVING_HEARTBEAT_LABEL, LEAVING_LABEL } from '../../shared/domain/labels';
import { formatLeaving, type Leaving } from '../../shared/domain/leaving';
import type { LifecycleAction, LifecycleResult } from '../../shared/domain/lifecycle';
import type { Notice } from '../../shared/domain/notice';
import type { OptOut } from '../../shared/domain/opt-out';
import type { NodeState } from '../../shared/domain/swarm';
import type { Decision, LifecycleOutcome, Plan, Ref, Step } from './types';

// Building blocks of plans, and how a plan is shown.

/**
 * A node a person opted out is never drained by us, whatever AWS does to its instance: the
 * outcome says so, and its lifecycle action (if any) is neither completed nor kept waiting —
 * Auto Scaling applies the hook's default result when its heartbeat timeout runs out, or a
 * person completes it sooner. The instance is taken all the same; that is the person's call.
 */
export function optedOut(ref: Ref, optOut: OptOut, hook: boolean): Decision {
  const action = hook
    ? ': its lifecycle action is left alone (the hook default result applies at its heartbeat timeout, unless a person completes it)'
    : ': AWS takes the instance all the same';
  return outcome({
    ...ref,
    kind: 'skipped',
    reason: optOut.reason,
    detail: `${optOut.detail}; not drained${action}`,
  });
}

export const notice = (severity: Notice['severity'], title: string, text: string): Step => ({
  kind: 'notify',
  notice: { severity, title, text },
});

/** Labels the node as leaving (and drains it) in one versioned update: conflict → read and decide again. */
export function markStep(
  node: NodeState,
  leaving: Leaving,
  drain: boolean,
  extra: Record<string, string> = {},
) {
  const says = `${drain ? 'drain' : 'label'} ${node.hostname} as leaving (${leaving.cause})`;
  return {
    kind: 'update',
    purpose: 'leave',
    node,
    labels: { [LEAVING_LABEL]: formatLeaving(leaving), ...extra },
    ...(drain ? { availability: 'drain' } : {}),
    says,
  } satisfies Step;
}

/** Claims the removal (versioned): of concurrent callers one goes on, the others are in-progress. */
export function claimStep(node: NodeState, now: Date): Step {
  const says = `claim the removal of ${node.hostname}`;
  return {
    kind: 'update',
    purpose: 'claim',
    node,
    labels: { [LEAVING_CLAIM_LABEL]: now.toISOString() },
    says,
  };
}

/** Keeps the instance waiting in each hook, and writes down when (last: a conflict loses nothing). */
export function heartbeatSteps(node: NodeState | undefined, actions: readonly LifecycleAction[], now: Date) {
  const steps: Step[] = actions.map((action) => ({ kind: 'heartbeat', action }));
  if (node && actions.length > 0) {
    const labels = { [LEAVING_HEARTBEAT_LABEL]: now.toISOString() };
    steps.push({
      kind: 'update',
      purpose: 'note',
      node,
      labels,
      says: `note the heartbeat on ${node.hostname}`,
    });
  }
  return steps;
}

export const completeSteps = (actions: readonly LifecycleAction[], result: LifecycleResult): Step[] =>
  actions.map((action) => ({ kind: 'complete', action, result }));

export function plan(ref: Ref, result: Plan['result'], detail: string, steps: Step[]): Decision {
  return { plan: { ref, result, detail, steps } };
}

export function outcome(o: LifecycleOutcome): Decision {
  return { outcome: o };
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'update':
      return step.says;
    case 'demote':
      return `demote manager ${step.node.hostname}`;
    case 'remove':
      return `remove ${step.node.hostname} (${step.node.id}) from the swarm`;
    case 'complete':
      return `complete ${step.action.hook} of ${step.action.group} for ${step.action.instance} with ${step.result}`;
    case 'heartbeat':
      return `record a heartbeat of ${step.action.hook} for ${step.action.instance}`;
    case 'notify':
      return `tell people (${step.notice.severity}): ${step.notice.title}`;
  }
}

/** What a dry run answers: the plan, one line a step, nothing changed. */
export function dryRun(p: Plan): LifecycleOutcome {
  const detail = `would: ${p.detail} (dry run)`;
  return { ...p.ref, kind: 'skipped', reason: 'dry-run', steps: p.steps.map(describeStep), detail };
}
