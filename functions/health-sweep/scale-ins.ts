import { SCALE_IN_LABEL } from '../../shared/domain/labels';
import {
  activeTasksByNode,
  completeScaleIns,
  pendingScaleIns,
  type ScaleInProgress,
} from '../../shared/domain/scale-in';
import type { NodeState, TaskState } from '../../shared/domain/swarm';
import { type Context, holding } from './context';
import type { Finding } from './findings';
import { errorText } from './wording';

/** A dry run's (or a paused sweep's) view of the pending scale-ins: what is still draining, what would be completed. */
export function previewScaleIns(
  pending: readonly NodeState[],
  tasks: readonly TaskState[],
  hold: { action: 'dry-run' | 'paused'; why: string } = { action: 'dry-run', why: 'dry run' },
): Finding[] {
  const counts = activeTasksByNode(tasks);
  return pending.map((n): Finding => {
    const left = counts.get(n.id) ?? 0;
    return {
      kind: 'scale-in',
      node: n.id,
      severity: 'info',
      subject: n.hostname,
      since: n.labels[SCALE_IN_LABEL] ?? null,
      action: left > 0 ? 'draining' : hold.action,
      detail:
        left > 0
          ? `being scaled in: ${left} task(s) still on it`
          : `being scaled in and empty: would terminate its instance and remove it (${hold.why})`,
    };
  });
}

/** Completing the scale-ins failed as a whole: one finding for all of them, tried again next sweep. */
export function scaleInsFailed(pending: readonly NodeState[], error: unknown): Finding {
  return {
    kind: 'scale-in',
    node: null,
    severity: 'warning',
    subject: pending.map((n) => n.hostname).join(', '),
    since: null,
    action: 'failed',
    detail: `completing the pending scale-in(s) failed: ${errorText(error)}. The next sweep tries again.`,
  };
}

export function scaleInFinding(p: ScaleInProgress): Finding {
  const base = { kind: 'scale-in' as const, node: p.node, severity: 'info' as const, subject: p.hostname };
  if (p.kind === 'scaled-in') {
    return {
      ...base,
      since: null,
      action: 'completed',
      detail: p.instance
        ? `drained and empty: ${p.instance} terminated, the worker group shrank by one, node removed`
        : 'drained and empty: removed from the swarm (no cloud: the machine is left as it is)',
    };
  }
  if (p.kind === 'draining') {
    return {
      ...base,
      since: p.since || null,
      action: 'draining',
      detail: `${p.tasks} task(s) still on it`,
    };
  }
  // completeScaleIns has told the people about these already.
  if (p.kind === 'handed-back')
    return { ...base, severity: 'warning', since: null, action: 'handed-back', detail: p.detail };
  if (p.kind === 'failed')
    return {
      ...base,
      severity: 'warning',
      since: null,
      action: 'failed',
      detail: `${p.detail}. The next sweep tries again.`,
    };
  return { ...base, since: null, action: 'in-progress', detail: 'another caller is completing it' };
}

export async function scaleIns(
  ctx: Context,
  nodes: readonly NodeState[],
  tasks: readonly TaskState[],
): Promise<Finding[]> {
  const { deps, input } = ctx;
  const pending = pendingScaleIns(nodes);
  if (pending.length === 0) return [];
  const hold = holding(ctx.moment);
  if (hold) return previewScaleIns(pending, tasks, hold);
  let progress: ScaleInProgress[];
  try {
    progress = await completeScaleIns(
      {
        swarm: deps.nodes,
        tasks: deps.tasks,
        group: deps.group,
        notifier: deps.notifier,
        clock: deps.clock,
        settings: deps.settings,
      },
      input.log,
      { nodes, tasks },
      // One node's failure is that node's finding; the others are still completed.
      { failures: 'report' },
    );
  } catch (error) {
    input.log.error('scale-in completion failed', { error });
    return [scaleInsFailed(pending, error)];
  }
  return progress.map(scaleInFinding);
}
