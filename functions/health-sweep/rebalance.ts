import { VersionConflictError } from '../../shared/domain/errors';
import { RESCHEDULE_LABEL } from '../../shared/domain/labels';
import type { NodeState, ServiceState, TaskState } from '../../shared/domain/swarm';
import { type RebalanceCandidate, rebalanceCandidates } from './assessments';
import { type Context, holding } from './context';
import type { Decision, Finding, Reported } from './findings';
import { report } from './outbox';
import { errorText } from './wording';

/** A service this sweep force-updates, so that Swarm spreads its tasks onto the idle nodes. */
export interface Rebalancing {
  readonly service: ServiceState;
  readonly base: { kind: 'rebalance'; service: string; subject: string; since: string };
  readonly what: string;
  /** The idle nodes' hostnames. */
  readonly idle: string;
}

export function classifyRebalance(
  c: RebalanceCandidate,
  dryRun: boolean,
  paused = false,
): Decision<Rebalancing> {
  const newest = c.idle.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
  const idle = c.idle.map((n) => n.hostname).join(', ');
  const what = `${idle} joined after ${c.service.name}'s last update and ${c.idle.length === 1 ? 'runs' : 'run'} none of its tasks, while ${c.crowded.node?.hostname ?? 'a node'} runs ${c.crowded.tasks}`;
  const base = {
    kind: 'rebalance' as const,
    service: c.service.id,
    subject: c.service.name,
    since: newest.createdAt.toISOString(),
  };
  const hold = holding({ dryRun, paused });
  if (hold) {
    const detail = `${what}: would force-update it (${hold.why}).`;
    return { finding: { ...base, severity: 'info', action: hold.action, detail } };
  }
  return { apply: { service: c.service, base, what, idle } };
}

export function rebalanced(plan: Rebalancing): Reported {
  const detail = `${plan.what}: force-updated (${RESCHEDULE_LABEL}=true), so Swarm spreads its tasks again.`;
  return {
    finding: { ...plan.base, severity: 'info', action: 'force-updated', detail },
    notice: { severity: 'info', title: `Rebalanced ${plan.service.name} onto ${plan.idle}`, text: detail },
  };
}

/** The force update was refused: someone else's update won (left alone), or it failed. */
export function notRebalanced(plan: Rebalancing, error: unknown): Finding {
  if (error instanceof VersionConflictError) {
    const detail = `${plan.what}; it changed while the sweep looked (someone updated it): left alone this time.`;
    return { ...plan.base, severity: 'info', action: 'conflict', detail };
  }
  const detail = `${plan.what}; the force update failed: ${errorText(error)}.`;
  return { ...plan.base, severity: 'warning', action: 'failed', detail };
}

export async function rebalance(
  ctx: Context,
  services: readonly ServiceState[],
  nodes: readonly NodeState[],
  tasks: readonly TaskState[],
): Promise<Finding[]> {
  const { deps, input } = ctx;
  const findings: Finding[] = [];
  for (const c of rebalanceCandidates(services, nodes, tasks)) {
    const decision = classifyRebalance(c, input.dryRun, ctx.moment.paused);
    if ('finding' in decision) {
      findings.push(decision.finding);
      continue;
    }
    try {
      await deps.services.forceUpdate(c.service);
    } catch (error) {
      if (!(error instanceof VersionConflictError)) {
        input.log.error('force update failed', { error, service: c.service.name });
      }
      findings.push(notRebalanced(decision.apply, error));
      continue;
    }
    findings.push(await report(ctx, rebalanced(decision.apply)));
  }
  return findings;
}
