import type { InstanceInfo } from '../../shared/domain/cloud';
import { DependencyUnavailableError, QuorumLostError } from '../../shared/domain/errors';
import {
  REPLACING_HOSTNAME_TAG,
  REPLACING_NODE_TAG,
  REPLACING_REMOVED_TAG,
  REPLACING_ROLE_TAG,
  REPLACING_SINCE_TAG,
  SCALE_IN_LABEL,
} from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import { retryAttempt } from '../../shared/domain/retry';
import {
  claimReplacement,
  type ReplacementClaim,
  readReplacementClaims,
  recentClaimsOfOthers,
} from '../../shared/domain/swarm-ledger';
import { downSinceOf } from './down-since';
import { ghostEvidence, ghostsAmong, removeGhost } from './ghost';
import { resume } from './resume';
import { checkInstance, decideReplacement, RECOVERY_PROCEDURE } from './rules';
import {
  abandon,
  announce,
  cameBack,
  findInstance,
  isLive,
  refused,
  removedByAnother,
  removeOnce,
} from './steps';
import { describeTarget, resolveTarget, type Target } from './target';
import type { Memo, ReplaceNodeDeps, ReplaceNodeInput, ReplaceOutcome } from './types';

export { DEMOTION_CLOCK_SKEW_MS, downSinceOf } from './down-since';
export {
  decideReplacement,
  hasQuorum,
  nodesBackedBy,
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

async function attempt(
  deps: ReplaceNodeDeps,
  target: Target,
  dryRun: boolean,
  log: Logger,
  memo: Memo,
): Promise<ReplaceOutcome> {
  const name = describeTarget(target);
  const now = deps.clock.now();
  const nodes = await deps.swarm.listNodes();
  const node = resolveTarget(nodes, target);
  if (node === 'ambiguous')
    return refused(deps, name, undefined, 'ambiguous-target', `several nodes match ${name}`, 'warning');
  if (!node) return resume(deps, target, name, nodes, now, log, memo);
  if (node.labels[SCALE_IN_LABEL] !== undefined) {
    const detail = `node ${node.hostname} is being scaled in: its scale-in terminates it through its group (which shrinks), not a replacement`;
    return refused(deps, name, node, 'scaling-in', detail, undefined);
  }

  // The instance behind the node, and whether it is ours to terminate.
  let instance: InstanceInfo | undefined;
  if (deps.cloud) {
    instance = await findInstance(deps.cloud, node);
    const gone = node.state === 'down' ? await ghostEvidence(deps.cloud, node, instance, nodes) : undefined;
    if (gone) return removeGhost(deps, { name, nodes, node, gone }, instance, { now, dryRun, log, memo });
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
  }

  // The hourly limit and our own earlier claim, from the ledger on the swarm object.
  const ledger = await deps.swarm.inspectSwarm();
  const claims = readReplacementClaims(ledger.labels);
  const own = claims.find((c) => c.nodeId === node.id);
  const recent = await countRecentReplacements(deps, claims, node.id, now);
  const downSince = downSinceOf(node, own);
  const ghosts = deps.cloud
    ? await ghostsAmong(deps.cloud, nodes, node, deps.settings.maxDownShare)
    : new Set<string>();
  const verdict = decideReplacement(nodes, node, now, deps.settings, recent, downSince, ghosts);
  // What it was before our own demotion, for the outcome and the messages.
  const role = own?.role ?? node.role;
  if (verdict.kind === 'refuse') {
    // A node that is back leaves no claim or tag of an earlier, interrupted attempt behind.
    if (verdict.reason === 'node-not-down' && own && !dryRun) await abandon(deps, node, instance, log);
    return refused(deps, name, node, verdict.reason, verdict.detail, verdict.severity);
  }

  const plan = [
    ...(own ? [] : ['claim a replacement slot on the swarm']),
    ...(instance ? [`tag ${instance.id} as being replaced`] : []),
    ...(node.role === 'manager' ? [`demote manager ${node.hostname}`] : []),
    `remove node ${node.hostname} (${node.id}) unless it is back`,
    ...(instance && isLive(instance) ? [`terminate ${instance.id}`] : []),
  ];
  if (dryRun)
    return {
      kind: 'skipped',
      target: name,
      node: node.id,
      reason: 'dry-run',
      detail: 'nothing changed',
      steps: plan,
    };

  const steps: string[] = [];
  // Count and claim are one versioned write: of concurrent callers one wins, the others re-read.
  if (!own || own.claimedAt.getTime() <= now.getTime() - ONE_HOUR_MS) {
    await claimReplacement(deps.swarm, ledger, { nodeId: node.id, claimedAt: now, downSince, role });
    steps.push('claimed');
  }
  if (instance && deps.cloud) {
    const ours = instance.tags[REPLACING_NODE_TAG] === node.id;
    await deps.cloud.tagInstance(instance.id, {
      [REPLACING_NODE_TAG]: node.id,
      [REPLACING_SINCE_TAG]: (ours && instance.tags[REPLACING_SINCE_TAG]) || now.toISOString(),
      [REPLACING_HOSTNAME_TAG]: node.hostname,
      [REPLACING_ROLE_TAG]: role,
    });
    steps.push(`tagged ${instance.id}`);
  }
  if (node.role === 'manager') {
    // With the version we read: a manager that came back since changed, and the retry re-decides.
    await deps.swarm.demoteNode(node);
    steps.push(`demoted ${node.hostname}`);
    await announce(
      deps,
      'info',
      `Demoted dead manager ${node.hostname}`,
      `${node.hostname} (${node.id}) was down since ${downSince.toISOString()}; quorum kept.`,
    );
  }
  // Without force: swarmkit itself refuses a node that is Ready again.
  const removal = await removeOnce(deps, memo, node);
  if (removal === 'not-found') return removedByAnother(name, node);
  if (removal === 'not-down') return cameBack(deps, name, node, role, instance, steps, log);
  steps.push(`removed ${node.hostname}`);
  await announce(
    deps,
    'info',
    `Removed dead node ${node.hostname} from the swarm`,
    `${role} ${node.hostname} (${node.id}) was down since ${downSince.toISOString()}.`,
  );
  if (instance && deps.cloud && isLive(instance)) {
    // What lets a later caller finish this one (a claim also does, for the hour it lasts).
    await deps.cloud
      .tagInstance(instance.id, { [REPLACING_REMOVED_TAG]: now.toISOString() })
      .catch((error: unknown) => log.warn('could not tag the removal; the claim covers it', { error }));
    await deps.cloud.terminateInstance(instance.id);
    steps.push(`terminated ${instance.id}`);
    await announce(
      deps,
      'info',
      `Terminated ${instance.id}`,
      `It ran ${node.hostname}; its Auto Scaling group launches the replacement, which joins with the tokens in SSM.`,
    );
  }
  log.info('replaced', { node: node.id, steps });
  return {
    kind: 'replaced',
    target: name,
    node: node.id,
    hostname: node.hostname,
    role,
    instance: instance?.id,
    steps,
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
