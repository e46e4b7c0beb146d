import type { InstanceInfo } from '../../shared/domain/cloud';
import { isTerminating } from '../../shared/domain/lifecycle';
import type { Logger } from '../../shared/domain/log';
import { type Pause, pausedOutcome } from '../../shared/domain/pause';
import { retryAttempt } from '../../shared/domain/retry';
import { activeTasksByNode } from '../../shared/domain/scale-in';
import { applyPlan } from './apply';
import { decideEvent, type InstanceEvent, screenEvent } from './decide-event';
import type { LifecycleRequest } from './events';
import { dryRun } from './plan';
import { reconcile } from './reconcile';
import type { LifecycleOutcome, NodeLifecycleDeps } from './types';

export type { LifecycleOutcome, NodeLifecycleDeps } from './types';

export interface NodeLifecycleInput {
  request: LifecycleRequest;
  dryRun: boolean;
  log: Logger;
}

/**
 * The answer while the cluster-wide pause is in force (events and the reconcile pass alike):
 * nothing is drained, removed, completed or kept waiting. An Auto Scaling lifecycle action left
 * waiting meanwhile ends with its hook's default result at its heartbeat timeout; one still
 * waiting at resume is finished by the next reconcile pass, which reads Auto Scaling's own state.
 */
export function pausedLifecycle(pause: Pause): LifecycleOutcome {
  return { subject: 'cluster', ...pausedOutcome(pause) };
}

/**
 * Drains a node before AWS takes its instance, and answers the Auto Scaling lifecycle hooks:
 * an event starts (labels and drains the node, in one versioned update), the reconcile pass
 * every minute finishes (the node leaves the swarm, the hook is completed). All state is on
 * the nodes and in AWS: every event may come twice, late or at once with another.
 */
export async function nodeLifecycle(
  deps: NodeLifecycleDeps,
  input: NodeLifecycleInput,
): Promise<{ dryRun: boolean; outcomes: LifecycleOutcome[] }> {
  const { request, log } = input;
  const dryRunOnly = input.dryRun || (request.kind === 'reconcile' && request.dryRun);
  if (request.kind === 'reconcile')
    return { dryRun: dryRunOnly, outcomes: await reconcile(deps, dryRunOnly, log) };
  const event = request.event;
  const screened = screenEvent(event, deps.settings);
  if (screened) return { dryRun: dryRunOnly, outcomes: [screened] };
  const instanceEvent = event as InstanceEvent;
  const ids = instanceEvent.kind === 'scheduled' ? instanceEvent.instances : [instanceEvent.instance];
  const outcomes: LifecycleOutcome[] = [];
  for (const id of ids) outcomes.push(await forInstance(deps, instanceEvent, id, dryRunOnly, log));
  return { dryRun: dryRunOnly, outcomes };
}

/** Only this cluster's instances: EC2's tags say, before the swarm is read. */
async function clusterInstance(
  deps: NodeLifecycleDeps,
  id: string,
): Promise<InstanceInfo | LifecycleOutcome> {
  const info = await deps.instances.describeInstance(id);
  const tag = deps.settings.clusterTag;
  if (!info)
    return {
      subject: id,
      instance: id,
      kind: 'ignored',
      reason: 'no-instance',
      detail: `EC2 does not list ${id}`,
    };
  if (info.tags[tag.key] === tag.value) return info;
  const detail = `${id} does not carry the cluster tag ${tag.key}=${tag.value}: not touching it`;
  return { subject: id, instance: id, kind: 'ignored', reason: 'not-cluster-instance', detail };
}

/**
 * Read, decide, apply; a version conflict reads and decides again. A plan that only labelled
 * the node is followed by one more pass, so that a node that can leave at once (empty, or
 * already down) does, without waiting for the reconcile pass.
 */
async function forInstance(
  deps: NodeLifecycleDeps,
  event: InstanceEvent,
  id: string,
  dryRunOnly: boolean,
  log: Logger,
): Promise<LifecycleOutcome> {
  const instance = await clusterInstance(deps, id);
  if ('kind' in instance) return instance;
  // Standby (a person's opt-out) holds against a warning of what may come (a rebalance
  // recommendation, a maintenance window), not against a departure: an instance Spot reclaims
  // or that shuts down goes whatever its state, and its node is better drained than killed.
  const warning = event.kind === 'rebalance' || event.kind === 'scheduled';
  const hook = event.kind === 'terminate-hook';
  const states = warning || hook ? await deps.groups?.lifecycleStates([id]) : undefined;
  const lifecycleState = states?.get(id);
  // A terminate hook's event that comes late (a retry, a replay from the failure queue) for an
  // instance Auto Scaling keeps after all: nothing is drained on its word.
  if (hook && states !== undefined && !isTerminating(lifecycleState)) {
    const detail = `Auto Scaling lists ${id} as ${lifecycleState ?? 'in no group'}, not terminating: the event is stale; nothing done`;
    return { subject: id, instance: id, kind: 'ignored', reason: 'not-leaving-state', detail };
  }
  const retry = { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random };
  return retryAttempt(retry, async () => {
    let first: LifecycleOutcome | undefined;
    for (let pass = 1; pass <= 2; pass++) {
      const [nodes, tasks] = await Promise.all([deps.swarm.listNodes(), deps.tasks.listTasks()]);
      const counts = activeTasksByNode(tasks);
      const view = {
        instance,
        nodes,
        tasksOn: (n: string) => counts.get(n) ?? 0,
        now: deps.clock.now(),
        lifecycleState,
      };
      const decision = decideEvent(event, view, deps.settings);
      if ('outcome' in decision) return first ?? decision.outcome;
      // Demotions are the reconcile pass's, one per pass: events for different managers run at
      // once, and each would find quorum safe on its own read.
      if (decision.plan.steps.some((s) => s.kind === 'demote')) {
        const detail = `${decision.plan.ref.subject} is a leaving manager: the reconcile pass demotes it (one manager at a time, quorum read again)`;
        return first ?? { ...decision.plan.ref, kind: 'waiting', reason: 'leaving', detail };
      }
      if (dryRunOnly) return dryRun(decision.plan);
      const done = await applyPlan(deps, decision.plan, log);
      const marked = decision.plan.steps.some((s) => s.kind === 'update' && s.purpose === 'leave');
      if (first) return { ...done, steps: [...stepsOf(first), ...stepsOf(done)] } as LifecycleOutcome;
      if (!marked || done.kind !== 'acted') return done;
      first = done;
    }
    return first as LifecycleOutcome;
  });
}

const stepsOf = (o: LifecycleOutcome): string[] => ('steps' in o ? (o.steps ?? []) : []);
