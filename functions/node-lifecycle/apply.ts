import { VersionConflictError } from '../../shared/domain/errors';
import type { Logger } from '../../shared/domain/log';
import { describeStep } from './plan';
import type { LifecycleOutcome, NodeLifecycleDeps, Plan, Step } from './types';

type Deps = Pick<NodeLifecycleDeps, 'swarm' | 'lifecycle' | 'notifier'>;

/**
 * Carries out a plan step by step, in its order: the plan's outcome with what was done, or the
 * outcome that ended it early (another caller claimed the node, or it came back). A version
 * conflict on the plan's `leave` update or its demotion is thrown: the caller reads and decides again.
 */
export async function applyPlan(deps: Deps, plan: Plan, log: Logger): Promise<LifecycleOutcome> {
  const done: string[] = [];
  const effects = { planned: 0, taken: 0 };
  const lastChange = plan.steps.findLastIndex((s) => s.kind !== 'notify');
  for (const [i, step] of plan.steps.entries()) {
    // The closing notices tell what changed: none when every change found its work done already.
    if (step.kind === 'notify' && i > lastChange && effects.planned > 0 && effects.taken === 0) continue;
    if (step.kind !== 'notify') effects.planned++;
    const stopped = await applyStep(deps, plan, step, done, log, effects);
    if (stopped) return stopped;
  }
  if (effects.planned > 0 && effects.taken === 0) {
    // Every step found its work done already (a duplicate, or a pass after ours while another
    // tool's hook still holds the instance): nothing changed, so nobody is told again.
    const detail = `nothing left to do for ${plan.ref.subject}: ${done.join('; ')}`;
    return { ...plan.ref, kind: 'skipped', reason: 'already-done', steps: done, detail };
  }
  return { ...plan.ref, ...plan.result, steps: done, detail: plan.detail } as LifecycleOutcome;
}

/** A step that changed something counts in `effects.taken`; one that found its work done does not. */
async function applyStep(
  deps: Deps,
  plan: Plan,
  step: Step,
  done: string[],
  log: Logger,
  effects: { taken: number },
): Promise<LifecycleOutcome | undefined> {
  switch (step.kind) {
    case 'update':
      try {
        const change = {
          labels: step.labels,
          ...(step.availability ? { availability: step.availability } : {}),
        };
        await deps.swarm.updateNode(step.node, change);
      } catch (error) {
        if (!(error instanceof VersionConflictError) || step.purpose === 'leave') throw error;
        if (step.purpose === 'claim') {
          const detail = `${step.node.hostname} changed since it was read: another caller is finishing it`;
          return { ...plan.ref, kind: 'skipped', reason: 'in-progress', steps: done, detail };
        }
        log.info('a note on the node lost a race; the next pass writes it again', { node: step.node.id });
        // Not work found done: another writer got there first, and the plan's outcome stands.
        effects.taken++;
        return undefined;
      }
      break;
    case 'demote':
      await deps.swarm.demoteNode(step.node);
      break;
    case 'remove': {
      const removal = await deps.swarm.removeNode(step.node.id, { force: step.force });
      if (removal === 'not-down') {
        const detail = `${step.node.hostname} is Ready again: it stays in the swarm`;
        return { ...plan.ref, kind: 'skipped', reason: 'came-back', steps: done, detail };
      }
      if (removal === 'not-found') {
        done.push(`${step.node.hostname} had already left the swarm`);
        return undefined;
      }
      break;
    }
    case 'complete': {
      const answer = await deps.lifecycle.complete(step.action, step.result);
      if (answer === 'no-active-action') {
        done.push(`${step.action.hook} for ${step.action.instance} was already completed`);
        return undefined;
      }
      break;
    }
    case 'heartbeat':
      if ((await deps.lifecycle.heartbeat(step.action)) === 'no-active-action') {
        done.push(`${step.action.instance} no longer waits in ${step.action.hook}`);
        return undefined;
      }
      break;
    case 'notify':
      await deps.notifier.notify(step.notice);
      break;
  }
  if (step.kind !== 'notify') effects.taken++;
  done.push(describeStep(step));
  return undefined;
}
