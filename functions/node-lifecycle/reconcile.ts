import type { InstanceInfo } from '../../shared/domain/cloud';
import { publicMessage } from '../../shared/domain/errors';
import type { GroupInstance, LifecycleHook } from '../../shared/domain/lifecycle';
import type { Logger } from '../../shared/domain/log';
import { activeTasksByNode } from '../../shared/domain/scale-in';
import { applyPlan } from './apply';
import { dryRun } from './plan';
import {
  decideLeavingNodes,
  decidePendingInstance,
  decideTerminatingInstance,
  PENDING_STATES,
  type ReconcileView,
  TERMINATING_STATES,
} from './reconcile-rules';
import type { Decision, LifecycleOutcome, NodeLifecycleDeps } from './types';

/**
 * The every-minute pass, stateless: reads the groups' waiting instances and their hooks, the
 * nodes and their tasks, and finishes what the events started (or what a missed event never
 * did). Each item is decided on its own and applied on its own: one that fails is reported as
 * `failed` and the next pass tries again, the others still go on.
 */
export async function reconcile(
  deps: NodeLifecycleDeps,
  dryRunOnly: boolean,
  log: Logger,
): Promise<LifecycleOutcome[]> {
  const [nodes, tasks] = await Promise.all([deps.swarm.listNodes(), deps.tasks.listTasks()]);
  const counts = activeTasksByNode(tasks);
  const outcomes: LifecycleOutcome[] = [];
  const { waiting, hooks, ec2 } = await readGroups(deps, outcomes, log);
  const view: ReconcileView = {
    now: deps.clock.now(),
    nodes,
    tasksOn: (id) => counts.get(id) ?? 0,
    hooks,
    ec2,
  };

  const decisions: Decision[] = [];
  const covered = new Set<string>();
  for (const gi of waiting) {
    if (TERMINATING_STATES.has(gi.lifecycleState)) {
      const { decision, node } = decideTerminatingInstance(gi, view, deps.settings);
      if (node) covered.add(node.id);
      decisions.push(decision);
    } else {
      decisions.push(decidePendingInstance(gi, view, deps.settings));
    }
  }
  decisions.push(...decideLeavingNodes(view, covered, deps.settings));

  let demoted = false;
  for (const decision of decisions) {
    if ('outcome' in decision) outcomes.push(decision.outcome);
    else if (dryRunOnly) outcomes.push(dryRun(decision.plan));
    else if (demoted && decision.plan.steps.some((s) => s.kind === 'demote')) {
      // Quorum was judged on this pass's read: one demotion per pass, the next one reads again.
      const detail = 'another manager was demoted in this pass: decided again in the next';
      outcomes.push({ ...decision.plan.ref, kind: 'waiting', reason: 'leaving', detail });
    } else {
      demoted ||= decision.plan.steps.some((s) => s.kind === 'demote');
      outcomes.push(await applyOne(deps, decision.plan, log));
    }
  }
  return outcomes;
}

async function applyOne(
  deps: NodeLifecycleDeps,
  plan: Extract<Decision, { plan: unknown }>['plan'],
  log: Logger,
): Promise<LifecycleOutcome> {
  try {
    return await applyPlan(deps, plan, log);
  } catch (error) {
    log.warn('reconcile: could not finish this one; the next pass tries again', { ...plan.ref, error });
    return { ...plan.ref, kind: 'failed', detail: `${publicMessage(error)}; the next pass tries again` };
  }
}

/** The waiting instances of LIFECYCLE_GROUPS, their groups' hooks, and EC2's view of each. */
async function readGroups(deps: NodeLifecycleDeps, outcomes: LifecycleOutcome[], log: Logger) {
  const hooks = new Map<string, LifecycleHook[]>();
  const ec2 = new Map<string, InstanceInfo | undefined>();
  let waiting: GroupInstance[] = [];
  try {
    const instances = await deps.lifecycle.describeGroups(deps.settings.lifecycleGroups);
    waiting = instances.filter(
      (i) => TERMINATING_STATES.has(i.lifecycleState) || PENDING_STATES.has(i.lifecycleState),
    );
    const groups = [...new Set(waiting.map((i) => i.group))];
    const [described, seen] = await Promise.all([
      Promise.all(groups.map(async (g) => [g, await deps.lifecycle.describeHooks(g)] as const)),
      Promise.all(waiting.map(async (i) => [i.id, await deps.instances.describeInstance(i.id)] as const)),
    ]);
    for (const [g, h] of described) hooks.set(g, h);
    for (const [id, info] of seen) ec2.set(id, info);
  } catch (error) {
    // The labelled nodes are still looked after; the waiting instances are not, this pass.
    log.warn('reconcile: the lifecycle groups could not be read', { error });
    const detail = `reading ${deps.settings.lifecycleGroups.join(', ')} failed: ${publicMessage(error)}; the next pass tries again`;
    outcomes.push({ subject: 'lifecycle-groups', kind: 'failed', detail });
    waiting = [];
  }
  return { waiting, hooks, ec2 };
}
