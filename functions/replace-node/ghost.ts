import type { CloudInstances, InstanceInfo } from '../../shared/domain/cloud';
import { nodesBackedBy } from '../../shared/domain/instance-nodes';
import { INSTANCE_ID_LABEL } from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import type { NodeState } from '../../shared/domain/swarm';
import { readReplacementClaims } from '../../shared/domain/swarm-ledger';
import { applyPlan } from './apply-plan';
import { downSinceOf } from './down-since';
import { dryRunOutcome, planGhostRemoval } from './plan';
import { decideGhostRemoval, stormLimit } from './rules';
import { findInstance, isLive, refused } from './steps';
import type { Memo, ReplaceNodeDeps, ReplaceOutcome } from './types';

/**
 * Why a node's own instance is known to be gone, or undefined when that is not known. Gone:
 * - its labelled instance (`aws.instance-id`) is terminated or shutting down, or EC2 no longer
 *   lists it while it does list this cluster's running instances ("none" is then an answer,
 *   not a blind spot: a wrong region, a role that sees nothing);
 * - the instance found for it (by label or address) runs another listed node;
 * - an unlabelled node's address is held by an instance launched after the node joined.
 * An unlabelled node with nothing at its address is NOT known to be gone: it may sit behind
 * NAT, in another VPC, or on-prem.
 */
export async function ghostEvidence(
  cloud: CloudInstances,
  node: NodeState,
  instance: InstanceInfo | undefined,
  nodes: readonly NodeState[],
): Promise<string | undefined> {
  if (instance) {
    const others = nodesBackedBy(instance, nodes, node.id);
    if (others.length > 0)
      return `its instance ${instance.id} now runs node ${others.map((n) => `${n.hostname} (${n.id})`).join(', ')}`;
  }
  if (node.engineLabels[INSTANCE_ID_LABEL] !== undefined) {
    if (instance) return isLive(instance) ? undefined : `its instance ${instance.id} is ${instance.state}`;
    return (await cloud.clusterVisible())
      ? `EC2 no longer lists its instance ${node.engineLabels[INSTANCE_ID_LABEL]}`
      : undefined;
  }
  if (instance?.launchTime !== undefined && instance.launchTime.getTime() > node.createdAt.getTime())
    return `its address is now held by ${instance.id}, launched ${instance.launchTime.toISOString()}, after the node joined`;
  return undefined;
}

/**
 * The other down nodes that are ghosts, looked up only when the raw count would be a storm:
 * leftovers of instances that are gone must not block the replacement of a real failure.
 */
export async function ghostsAmong(
  cloud: CloudInstances,
  nodes: readonly NodeState[],
  target: NodeState,
  maxDownShare: number,
): Promise<Set<string>> {
  const down = nodes.filter((n) => n.state === 'down');
  if (down.length <= stormLimit(nodes.length, maxDownShare)) return new Set();
  const others = down.filter((n) => n.id !== target.id);
  const gone = await Promise.all(
    others.map(async (n) => ghostEvidence(cloud, n, await findInstance(cloud, n), nodes)),
  );
  return new Set(others.filter((_, i) => gone[i]).map((n) => n.id));
}

/**
 * A ghost leaves the swarm after the grace period: no storm guard, no slot of the hourly
 * limit (nothing is terminated), quorum-safe, and without `--force` like every removal: a
 * node that is Ready after all stays.
 */
export async function removeGhost(
  deps: ReplaceNodeDeps,
  target: { name: string; nodes: readonly NodeState[]; node: NodeState; gone: string },
  instance: InstanceInfo | undefined,
  run: { now: Date; dryRun: boolean; log: Logger; memo: Memo },
): Promise<ReplaceOutcome> {
  const { name, nodes, node, gone } = target;
  const { now, dryRun, log, memo } = run;
  // A ghost manager we demoted earlier: its claim keeps the down-since our demotion moved.
  const ledger = await deps.swarm.inspectSwarm();
  const own = readReplacementClaims(ledger.labels).find((c) => c.nodeId === node.id);
  const downSince = downSinceOf(node, own);
  const verdict = decideGhostRemoval(nodes, node, now, deps.settings.nodeDownGraceSeconds, downSince);
  if (verdict.kind === 'refuse')
    return refused(deps, name, node, verdict.reason, `${verdict.detail} (${gone})`, verdict.severity);
  const detail = `${node.role} ${node.hostname} (${node.id}) was down and ${gone}: removed from the swarm, nothing terminated.`;
  const plan = planGhostRemoval({ node, own, downSince, now, detail });
  if (dryRun) return dryRunOutcome(name, plan, `nothing changed: ${gone}`);
  const applied = await applyPlan(deps, plan, { name, ledger, log, memo });
  if ('stopped' in applied) return applied.stopped;
  log.info('removed ghost', { node: node.id, instance: instance?.id });
  return {
    kind: 'removed-ghost',
    target: name,
    node: node.id,
    hostname: node.hostname,
    role: node.role,
    instance: instance && !isLive(instance) ? instance.id : undefined,
    detail,
  };
}
