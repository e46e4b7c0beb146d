import type { ServiceState, TaskState } from '../../shared/domain/swarm';
import { type UnderReplication, underReplicated } from './assessments';
import type { Context, SweepMoment } from './context';
import type { Finding, Reported } from './findings';
import { report } from './outbox';
import { crossedWithin } from './window';
import { duration } from './wording';

/** An under-replicated service: watched below the threshold, told once when it crosses it. */
export function classifyShortfall(
  u: UnderReplication,
  thresholdSeconds: number,
  moment: SweepMoment,
): Reported {
  const thresholdMs = thresholdSeconds * 1_000;
  const elapsed = moment.at.getTime() - u.since.getTime();
  const why = u.errors.length > 0 ? ` Swarm says: ${u.errors.slice(0, 3).join('; ')}.` : '';
  const what = `${u.service.name} runs ${u.running} of ${u.desired} tasks since ${u.since.toISOString()} (${duration(elapsed)}).${why}`;
  const base = {
    kind: 'under-replicated' as const,
    service: u.service.id,
    subject: u.service.name,
    since: u.since.toISOString(),
    running: u.running,
    desired: u.desired,
  };
  if (elapsed < thresholdMs) {
    const detail = `${what} Reported if it lasts ${thresholdSeconds} s.`;
    return { finding: { ...base, severity: 'info', action: 'watching', detail } };
  }
  const due = crossedWithin(elapsed, thresholdMs, moment.intervalMs);
  const action = !due ? 'notified-earlier' : moment.dryRun ? 'dry-run' : 'notified';
  const finding: Finding = { ...base, severity: 'warning', action, detail: what };
  if (action !== 'notified') return { finding };
  return {
    finding,
    notice: {
      severity: 'warning',
      title: `Service ${u.service.name} under-replicated: ${u.running} of ${u.desired} tasks running`,
      text: `${what} Check placement constraints, resources and the nodes (\`docker service ps ${u.service.name}\`).`,
    },
  };
}

export async function replicaShortfalls(
  ctx: Context,
  services: readonly ServiceState[],
  tasks: readonly TaskState[],
): Promise<Finding[]> {
  const thresholdSeconds = ctx.deps.settings.underReplicatedSeconds;
  const findings: Finding[] = [];
  for (const u of underReplicated(services, tasks)) {
    findings.push(await report(ctx, classifyShortfall(u, thresholdSeconds, ctx.moment)));
  }
  return findings;
}
