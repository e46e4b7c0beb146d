import { REPLACING_REMOVED_TAG } from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import type { SwarmInfo } from '../../shared/domain/swarm';
import { claimReplacement } from '../../shared/domain/swarm-ledger';
import type { ReplacementPlan, ReplaceStep } from './plan';
import { cameBack, removedByAnother, removeOnce } from './steps';
import type { Memo, ReplaceNodeDeps, ReplaceOutcome } from './types';

export interface PlanRun {
  /** The target as the outcome names it. */
  name: string;
  /** The swarm as read for the decision: a claim is written with its version. */
  ledger: SwarmInfo;
  log: Logger;
  memo: Memo;
}

/**
 * Carries out a plan step by step, in its order: what was done, or the outcome that ended it
 * early (the node came back, or another delivery removed it first).
 */
export async function applyPlan(
  deps: ReplaceNodeDeps,
  plan: ReplacementPlan,
  run: PlanRun,
): Promise<{ done: string[] } | { stopped: ReplaceOutcome }> {
  const done: string[] = [];
  for (const step of plan.steps) {
    const stopped = await applyStep(deps, plan, step, run, done);
    if (stopped) return { stopped };
    if ('notice' in step && step.notice) await deps.notifier.notify(step.notice);
  }
  return { done };
}

async function applyStep(
  deps: ReplaceNodeDeps,
  plan: ReplacementPlan,
  step: ReplaceStep,
  run: PlanRun,
  done: string[],
): Promise<ReplaceOutcome | undefined> {
  const { node } = plan;
  switch (step.kind) {
    case 'claim':
      await claimReplacement(deps.swarm, run.ledger, step.claim);
      done.push('claimed');
      return undefined;
    case 'tag':
      // A plan has tag and terminate steps only for an instance the cloud found.
      await deps.cloud?.tagInstance(step.instance, step.tags);
      done.push(`tagged ${step.instance}`);
      return undefined;
    case 'demote':
      if (step.claim) await claimReplacement(deps.swarm, run.ledger, step.claim);
      // With the version we read: a manager that came back since changed, and the retry re-decides.
      await deps.swarm.demoteNode(node);
      done.push(`demoted ${node.hostname}`);
      return undefined;
    case 'remove': {
      // Without force: swarmkit itself refuses a node that is Ready again.
      const removal = await removeOnce(deps, run.memo, node);
      if (removal === 'not-found') return removedByAnother(run.name, node);
      if (removal === 'not-down')
        return cameBack(deps, run.name, node, plan.role, plan.instance, done, run.log);
      done.push(`removed ${node.hostname}`);
      return undefined;
    }
    case 'terminate':
      // What lets a later caller finish this one (a claim also does, for the hour it lasts).
      await deps.cloud
        ?.tagInstance(step.instance, { [REPLACING_REMOVED_TAG]: step.removedAt })
        .catch((error: unknown) => run.log.warn('could not tag the removal; the claim covers it', { error }));
      await deps.cloud?.terminateInstance(step.instance);
      done.push(`terminated ${step.instance}`);
      return undefined;
  }
}
