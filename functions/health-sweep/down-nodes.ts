import { SCALE_IN_LABEL } from '../../shared/domain/labels';
import { readLeaving } from '../../shared/domain/leaving';
import { optOutOf } from '../../shared/domain/opt-out';
import type { NodeState } from '../../shared/domain/swarm';
import { type Context, holding, type SweepMoment } from './context';
import { dispatchReplaceNode, type ReplaceNodeSent } from './dispatch-replace-node';
import type { Decision, Finding, Reported } from './findings';
import { report } from './outbox';
import { crossedWithin, crossingNumber } from './window';
import { duration } from './wording';

/** A down node this sweep dispatches replace-node for. */
export interface NodeReplacement {
  readonly node: NodeState;
  readonly base: { kind: 'node-down'; node: string; subject: string; since: string };
  readonly what: string;
  /** The first dispatch of the series: the one a person is told about. */
  readonly first: boolean;
}

/**
 * A down node: left alone while it is being scaled in, leaving, opted out by a person
 * (reported with the reason) or within the grace period, then
 * replace-node is dispatched once per grace window, when the down time crosses a multiple of it.
 */
export function classifyDownNode(
  node: NodeState,
  graceSeconds: number,
  moment: SweepMoment,
): Decision<NodeReplacement> {
  const graceMs = graceSeconds * 1_000;
  const downFor = moment.at.getTime() - node.updatedAt.getTime();
  const base = {
    kind: 'node-down' as const,
    node: node.id,
    subject: node.hostname || node.id,
    since: node.updatedAt.toISOString(),
  };
  const what = `${node.role} ${node.hostname || node.id} is down since ${node.updatedAt.toISOString()} (${duration(downFor)})`;
  if (node.labels[SCALE_IN_LABEL] !== undefined) {
    const detail = `${what}; it is being scaled in, so it is not replaced.`;
    return { finding: { ...base, severity: 'info', action: 'leaving', detail } };
  }
  const leaving = readLeaving(node.labels);
  // AWS is taking its instance (or rebooting it in a maintenance window): node-lifecycle
  // removes it, without the grace period. Only a rebalance recommendation is mere advice.
  if (leaving !== undefined && leaving.cause !== 'rebalance') {
    const detail = `${what}; AWS is taking its instance (${leaving.cause} since ${leaving.since.toISOString()}): node-lifecycle removes it, so it is not replaced.`;
    return { finding: { ...base, severity: 'info', action: 'leaving', detail } };
  }
  // A person keeps us away from it: reported, never handed to replace-node (which would refuse it).
  const optOut = optOutOf(node);
  if (optOut) {
    const detail = `${what}; ${optOut.detail}, so replace-node is not dispatched for it.`;
    return { finding: { ...base, severity: 'info', action: optOut.reason, detail } };
  }
  if (downFor < graceMs) {
    const detail = `${what}, within the grace period of ${graceSeconds} s: replace-node is dispatched once it has passed.`;
    return { finding: { ...base, severity: 'info', action: 'watching', detail } };
  }
  if (!crossedWithin(downFor, graceMs, moment.intervalMs, graceMs)) {
    const detail = `${what}, past the grace period: replace-node is dispatched once per grace window (${graceSeconds} s), when the down time crosses a multiple of it; not in this sweep.`;
    return { finding: { ...base, severity: 'warning', action: 'not-due', detail } };
  }
  const hold = holding(moment);
  if (hold) {
    const detail = `${what}: would dispatch replace-node (${hold.why}).`;
    return { finding: { ...base, severity: 'info', action: hold.action, detail } };
  }
  const first = crossingNumber(downFor, graceMs, moment.intervalMs, graceMs) === 1;
  return { apply: { node, base, what, first } };
}

/** The finding for a dispatched replacement, told to a person on the first dispatch of its series. */
export function classifyNodeDispatch(plan: NodeReplacement, sent: ReplaceNodeSent): Reported {
  const { base, what, first } = plan;
  if ('failed' in sent) {
    return { finding: { ...base, severity: 'warning', action: 'dispatch-failed', detail: sent.failed } };
  }
  if (!sent.dispatched) {
    const detail = `${what}, past the grace period: ${sent.detail}. Replace it by hand, or run replace-node for it.`;
    const finding: Finding = { ...base, severity: 'warning', action: 'not-dispatched', detail };
    if (!first) return { finding };
    return { finding, notice: { severity: 'warning', title: `Node ${base.subject} is down`, text: detail } };
  }
  const detail = `${what}: dispatched replace-node (${sent.to})${first ? '' : ' again'}; it applies its safety rules and reports what it does.`;
  const finding: Finding = { ...base, severity: 'info', action: 'dispatched', detail };
  if (!first) return { finding };
  return {
    finding,
    notice: {
      severity: 'info',
      title: `Node ${base.subject} is down: replace-node dispatched`,
      text: detail,
    },
  };
}

export async function downNodes(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const { deps } = ctx;
  const findings: Finding[] = [];
  for (const node of nodes.filter((n) => n.state === 'down')) {
    const decision = classifyDownNode(node, deps.settings.nodeDownGraceSeconds, ctx.moment);
    if ('finding' in decision) {
      findings.push(decision.finding);
      continue;
    }
    const plan = decision.apply;
    const sent = await dispatchReplaceNode(ctx, () => deps.dispatcher.replaceNode(node.id), {
      subject: plan.base.subject,
      failed: (why) =>
        `${plan.what}: replace-node could not be dispatched (${why}). The next grace window tries again; Alertmanager's node-down route is the other way in.`,
      logKeys: { node: node.id },
    });
    findings.push(await report(ctx, classifyNodeDispatch(plan, sent)));
  }
  return findings;
}
