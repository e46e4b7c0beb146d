import type { InstanceInfo } from '../../shared/domain/cloud';
import { DependencyUnavailableError, QuorumLostError } from '../../shared/domain/errors';
import { nodesBackedBy } from '../../shared/domain/instance-nodes';
import { REPLACING_NODE_TAG, REPLACING_SINCE_TAG, SCALE_IN_LABEL } from '../../shared/domain/labels';
import { readLeaving } from '../../shared/domain/leaving';
import type { Logger } from '../../shared/domain/log';
import { optOutOf } from '../../shared/domain/opt-out';
import { retryAttempt } from '../../shared/domain/retry';
import type { NodeState } from '../../shared/domain/swarm';
import {
  type ReplacementClaim,
  readReplacementClaims,
  recentClaimsOfOthers,
} from '../../shared/domain/swarm-ledger';
import { applyPlan } from './apply-plan';
import { downSinceOf } from './down-since';
import { ghostEvidence, ghostsAmong, removeGhost } from './ghost';
import { dryRunOutcome, planReplacement } from './plan';
import { resume } from './resume';
import { checkInstance, decideReplacement, RECOVERY_PROCEDURE } from './rules';
import { abandon, findInstance, isLive, refused, standbyState } from './steps';
import { describeTarget, resolveTarget, type Target } from './target';
import type { Memo, ReplaceNodeDeps, ReplaceNodeInput, ReplaceOutcome } from './types';

export { DEMOTION_CLOCK_SKEW_MS, downSinceOf } from './down-since';
export {
  decideReplacement,
  RECOVERY_PROCEDURE,
  type RefuseReason,
  type SafetySettings,
  stormLimit,
  type Verdict,
} from './rules';
export { describeTarget, parseTarget, resolveTarget, type Target } from './target';
export type { ReplaceNodeDeps, ReplaceNodeInput, ReplaceOutcome } from './types';

const ONE_HOUR_MS = 3_600_000;

/** Replaces each target in turn (one at a time: each decision sees the previous one's effect). */
export async function replaceNodes(
  deps: ReplaceNodeDeps,
  input: ReplaceNodeInput,
): Promise<{ dryRun: boolean; outcomes: ReplaceOutcome[] }> {
  const outcomes: ReplaceOutcome[] = [...input.ignored];
  const seen = new Set<string>();
  for (const { target } of input.targets) {
    const key = `${target.by}:${target.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const log = input.log.child({ target: describeTarget(target) });
    const outcome = await replaceOne(deps, target, input.dryRun, log);
    log.info('decision', { audit: true, ...outcome });
    outcomes.push(outcome);
  }
  return { dryRun: input.dryRun, outcomes };
}

async function replaceOne(
  deps: ReplaceNodeDeps,
  target: Target,
  dryRun: boolean,
  log: Logger,
): Promise<ReplaceOutcome> {
  const name = describeTarget(target);
  try {
    // What this invocation already did, so that its own retry resumes without waiting.
    const memo: Memo = { removed: new Set() };
    return await retryAttempt(
      { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
      () => attempt(deps, target, dryRun, log, memo),
    );
  } catch (error) {
    // A manager that lost quorum often times out rather than saying so: ask it plainly.
    if (!(error instanceof QuorumLostError) && !(await quorumLost(deps, error))) throw error;
    // The managers we reach have no leader: nothing can be changed, a person must act.
    // Who answered and who did not: the pool asked every manager it knows before saying so.
    const seen = error instanceof QuorumLostError ? ` (${error.message})` : '';
    const detail = `no manager we reach sees a leader: the swarm has lost quorum as far as we can tell${seen}. ${RECOVERY_PROCEDURE}`;
    await deps.notifier.notify({
      severity: 'critical',
      title: `Swarm lost quorum: cannot replace ${name}`,
      text: detail,
      fields: { target: name },
    });
    return { kind: 'refused', target: name, reason: 'quorum-lost', detail };
  }
}

interface Run {
  now: Date;
  dryRun: boolean;
  log: Logger;
  memo: Memo;
}

/** One attempt: find the node and its instance; refuse, remove a ghost, resume, or replace it. */
async function attempt(
  deps: ReplaceNodeDeps,
  target: Target,
  dryRun: boolean,
  log: Logger,
  memo: Memo,
): Promise<ReplaceOutcome> {
  const name = describeTarget(target);
  const run: Run = { now: deps.clock.now(), dryRun, log, memo };
  const nodes = await deps.swarm.listNodes();
  const node = resolveTarget(nodes, target);
  if (node === 'ambiguous')
    return refused(deps, name, undefined, 'ambiguous-target', `several nodes match ${name}`, 'warning');
  if (!node) return resume(deps, target, name, nodes, run.now, log, memo);
  if (node.labels[SCALE_IN_LABEL] !== undefined) {
    const detail = `node ${node.hostname} is being scaled in: its scale-in terminates it through its group (which shrinks), not a replacement`;
    return refused(deps, name, node, 'scaling-in', detail, undefined);
  }
  const leaving = readLeaving(node.labels);
  if (leaving !== undefined && leaving.cause !== 'rebalance') {
    const detail = `AWS is taking the instance of ${node.hostname} (${leaving.cause} since ${leaving.since.toISOString()}): node-lifecycle removes the node without a replacement of ours`;
    return refused(deps, name, node, 'leaving', detail, undefined);
  }
  // A person keeps us away from it: not replaced, not even removed as a ghost. The sweep reports it.
  const optOut = optOutOf(node);
  if (optOut) return refused(deps, name, node, optOut.reason, `${optOut.detail}; not replaced`, undefined);

  // The instance behind the node, and whether it is ours to terminate.
  let instance: InstanceInfo | undefined;
  if (deps.cloud) {
    instance = await findInstance(deps.cloud, node);
    const gone = node.state === 'down' ? await ghostEvidence(deps.cloud, node, instance, nodes) : undefined;
    if (gone) {
      // A live instance that runs no other node (a newer LaunchTime at its address: a stop and
      // start resets it) may be this node's own: not proof enough against a person's Standby.
      const own = instance && isLive(instance) && nodesBackedBy(instance, nodes, node.id).length === 0;
      const kept = own && instance ? await standbyOptOut(deps, node, instance.id) : undefined;
      if (kept) return refused(deps, name, node, kept.reason, `${kept.detail}; not removed`, undefined);
      return removeGhost(deps, { name, nodes, node, gone }, instance, run);
    }
    const refusal = checkInstance(instance, deps.settings.clusterTag, node, nodes);
    // Only refuse loudly once the node is really a candidate; a Ready node is routine.
    if (refusal)
      return refused(
        deps,
        name,
        node,
        refusal.reason,
        refusal.detail,
        node.state === 'down' ? 'warning' : undefined,
      );
    // Its own live instance in Auto Scaling Standby: a person took it out of service. (An
    // instance that is gone is not protected by it: its node is removed as a ghost, above.)
    const standby = instance ? await standbyOptOut(deps, node, instance.id) : undefined;
    if (standby)
      return refused(deps, name, node, standby.reason, `${standby.detail}; not replaced`, undefined);
  }
  return replace(deps, { name, nodes, node, instance }, run);
}

/** The opt-out of a node whose instance Auto Scaling lists in Standby (undefined: none, or not read). */
async function standbyOptOut(deps: ReplaceNodeDeps, node: NodeState, instanceId: string) {
  const state = await standbyState(deps, instanceId);
  return state ? optOutOf(node, state) : undefined;
}

/** Decide with the ledger on the swarm (the hourly limit, our own claim); plan; apply the plan. */
async function replace(
  deps: ReplaceNodeDeps,
  subject: { name: string; nodes: readonly NodeState[]; node: NodeState; instance: InstanceInfo | undefined },
  { now, dryRun, log, memo }: Run,
): Promise<ReplaceOutcome> {
  const { name, nodes, node, instance } = subject;
  const ledger = await deps.swarm.inspectSwarm();
  const claims = readReplacementClaims(ledger.labels);
  const own = claims.find((c) => c.nodeId === node.id);
  const recent = await countRecentReplacements(deps, claims, node.id, now);
  const downSince = downSinceOf(node, own);
  const ghosts = deps.cloud
    ? await ghostsAmong(deps.cloud, nodes, node, deps.settings.maxDownShare)
    : new Set<string>();
  const verdict = decideReplacement(nodes, node, now, deps.settings, recent, downSince, ghosts);
  if (verdict.kind === 'refuse') {
    // A node that is back leaves no claim or tag of an earlier, interrupted attempt behind.
    if (verdict.reason === 'node-not-down' && own && !dryRun) await abandon(deps, node, instance, log);
    return refused(deps, name, node, verdict.reason, verdict.detail, verdict.severity);
  }
  const plan = planReplacement({ node, instance, own, role: own?.role ?? node.role, downSince, now });
  if (dryRun) return dryRunOutcome(name, plan, 'nothing changed');
  const applied = await applyPlan(deps, plan, { name, ledger, log, memo });
  if ('stopped' in applied) return applied.stopped;
  log.info('replaced', { node: node.id, steps: applied.done });
  return {
    kind: 'replaced',
    target: name,
    node: node.id,
    hostname: node.hostname,
    role: plan.role,
    instance: instance?.id,
    steps: applied.done,
    detail: deps.cloud
      ? 'node removed; the Auto Scaling group replaces the instance'
      : 'node removed from the swarm; no instance was replaced (no cloud configured)',
  };
}

async function quorumLost(deps: ReplaceNodeDeps, error: unknown): Promise<boolean> {
  if (!(error instanceof DependencyUnavailableError) || error.dependency !== 'docker') return false;
  try {
    await deps.swarm.inspectSwarm();
    return false;
  } catch (probe) {
    return probe instanceof QuorumLostError;
  }
}

/**
 * Replacements of other nodes claimed in the last hour: the swarm ledger (atomic), joined
 * with the instances EC2 still lists as tagged by a replacement (what older versions wrote).
 */
async function countRecentReplacements(
  deps: ReplaceNodeDeps,
  claims: readonly ReplacementClaim[],
  nodeId: string,
  now: Date,
): Promise<number> {
  const others = new Set(recentClaimsOfOthers(claims, nodeId, now).map((c) => c.nodeId));
  if (deps.cloud) {
    const cutoff = now.getTime() - ONE_HOUR_MS;
    for (const i of await deps.cloud.listReplacements()) {
      const tagged = i.tags[REPLACING_NODE_TAG];
      if (tagged && tagged !== nodeId && Date.parse(i.tags[REPLACING_SINCE_TAG] ?? '') > cutoff)
        others.add(tagged);
    }
  }
  return others.size;
}
