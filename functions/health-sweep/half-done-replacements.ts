import { type InstanceInfo, REPLACEMENT_RESUME_AFTER_MS } from '../../shared/domain/cloud';
import { REPLACING_NODE_TAG } from '../../shared/domain/labels';
import type { NodeState } from '../../shared/domain/swarm';
import { type Context, holding, type SweepMoment } from './context';
import { dispatchReplaceNode, type ReplaceNodeSent } from './dispatch-replace-node';
import type { Decision, Finding, Reported } from './findings';
import { report } from './outbox';
import { type UnfinishedReplacement, unfinishedReplacements } from './unfinished-replacements';
import { errorText } from './wording';

/** An unfinished replacement this sweep dispatches replace-node to finish. */
export interface ReplacementResumption {
  readonly replacement: UnfinishedReplacement;
  readonly base: {
    kind: 'replacement-unfinished';
    instance: string;
    node: string;
    subject: string;
    since: string;
  };
  readonly what: string;
}

/** EC2 could not list the tagged instances: a finding, and the next sweep reads them again. */
export function unlistedReplacements(error: unknown): Finding {
  return {
    kind: 'replacement-unfinished',
    severity: 'warning',
    subject: REPLACING_NODE_TAG,
    since: null,
    instance: null,
    node: null,
    action: 'read-failed',
    detail: `could not list the instances tagged ${REPLACING_NODE_TAG} (half-done replacements): ${errorText(error)}; the next sweep reads them again.`,
  };
}

/** Watched while its own replace-node may still run, then resumed once per grace window. */
export function classifyUnfinished(
  r: UnfinishedReplacement,
  moment: SweepMoment,
): Decision<ReplacementResumption> {
  const base = {
    kind: 'replacement-unfinished' as const,
    instance: r.instance.id,
    node: r.nodeId,
    subject: r.hostname || r.instance.id,
    since: r.since.toISOString(),
  };
  const what = `${r.instance.id} (${base.subject}) has been tagged as being replaced since ${base.since}; its node ${r.nodeId} left the swarm but the instance is still ${r.instance.state}`;
  const elapsed = moment.at.getTime() - r.since.getTime();
  if (elapsed < REPLACEMENT_RESUME_AFTER_MS) {
    const detail = `${what}; its replacement may still be running.`;
    return { finding: { ...base, severity: 'info', action: 'watching', detail } };
  }
  if (!r.due) {
    const detail = `${what}; replace-node is dispatched once per grace window.`;
    return { finding: { ...base, severity: 'warning', action: 'not-due', detail } };
  }
  const hold = holding(moment);
  if (hold) {
    const detail = `${what}: would dispatch replace-node (${hold.why}).`;
    return { finding: { ...base, severity: 'info', action: hold.action, detail } };
  }
  return { apply: { replacement: r, base, what } };
}

/** The finding for a resumed replacement, told to a person on the first dispatch of its series. */
export function classifyResumption(plan: ReplacementResumption, sent: ReplaceNodeSent): Reported {
  const { base, what } = plan;
  if ('failed' in sent) {
    return { finding: { ...base, severity: 'warning', action: 'dispatch-failed', detail: sent.failed } };
  }
  const detail = sent.dispatched
    ? `${what}: dispatched replace-node (${sent.to}) to finish it; it re-checks everything before it terminates.`
    : `${what}: ${sent.detail}. Terminate it by hand once you have checked it runs no node.`;
  const finding: Finding = {
    ...base,
    severity: 'warning',
    action: sent.dispatched ? 'dispatched' : 'not-dispatched',
    detail,
  };
  if (!plan.replacement.first) return { finding };
  return {
    finding,
    notice: { severity: 'warning', title: `Unfinished replacement of ${base.subject}`, text: detail },
  };
}

export async function halfDoneReplacements(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const { deps, input } = ctx;
  if (!deps.replacements) return [];
  const timing = { intervalMs: ctx.moment.intervalMs, graceMs: deps.settings.nodeDownGraceSeconds * 1_000 };
  // A failed EC2 read is a finding, never thrown: a failed sweep is retried by Lambda with the
  // same event, which would send the messages already sent again and skip the checks after this one.
  let tagged: InstanceInfo[];
  try {
    tagged = await deps.replacements.list();
  } catch (error) {
    input.log.error('listing the half-done replacements failed', { error });
    return [unlistedReplacements(error)];
  }
  const findings: Finding[] = [];
  for (const r of unfinishedReplacements(tagged, nodes, input.at, timing)) {
    const decision = classifyUnfinished(r, ctx.moment);
    if ('finding' in decision) {
      findings.push(decision.finding);
      continue;
    }
    const { what } = decision.apply;
    const sent = await dispatchReplaceNode(ctx, () => deps.dispatcher.replaceInstance(r.instance.id), {
      subject: r.instance.id,
      failed: (why) =>
        `${what}: replace-node could not be dispatched (${why}); the next grace window tries again.`,
      logKeys: { instance: r.instance.id },
    });
    findings.push(await report(ctx, classifyResumption(decision.apply, sent)));
  }
  return findings;
}
