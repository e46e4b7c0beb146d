import type { CloudInstances, InstanceInfo } from '../../shared/ec2';
import type { Logger } from '../../shared/logger';
import type { NodeState } from '../../shared/swarm';
import { decideGhostRemoval, stormLimit } from './rules';
import { announce, cameBack, findInstance, isLive, refused, removedByAnother, removeOnce } from './steps';
import type { Memo, ReplaceNodeDeps, ReplaceOutcome } from './types';

/**
 * Whether the instance behind a down node is gone for good: EC2 says terminated (or
 * shutting down), or lists no such instance while it does list this cluster's running ones
 * (so "none" is an answer, not a blind spot: a wrong region, a role that sees nothing).
 */
export async function instanceGone(
  cloud: CloudInstances,
  instance: InstanceInfo | undefined,
): Promise<boolean> {
  if (instance) return !isLive(instance);
  return cloud.clusterVisible();
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
  const gone = await Promise.all(others.map(async (n) => instanceGone(cloud, await findInstance(cloud, n))));
  return new Set(others.filter((_, i) => gone[i]).map((n) => n.id));
}

/**
 * A ghost leaves the swarm: no grace period (the machine cannot come back), no storm guard,
 * no slot of the hourly limit (nothing is terminated), but quorum-safe, and without
 * `--force` like every removal: a node that is Ready after all stays.
 */
export async function removeGhost(
  deps: ReplaceNodeDeps,
  name: string,
  nodes: readonly NodeState[],
  node: NodeState,
  instance: InstanceInfo | undefined,
  dryRun: boolean,
  log: Logger,
  memo: Memo,
): Promise<ReplaceOutcome> {
  const gone = instance
    ? `its instance ${instance.id} is ${instance.state}`
    : `no instance of this cluster exists for it any more (engine label or address ${node.address || 'unknown'})`;
  const verdict = decideGhostRemoval(nodes, node);
  if (verdict.kind === 'refuse')
    return refused(deps, name, node, verdict.reason, `${verdict.detail} (${gone})`, verdict.severity);
  if (dryRun) {
    return {
      kind: 'skipped',
      target: name,
      node: node.id,
      reason: 'dry-run',
      detail: `nothing changed: ${gone}`,
      steps: [
        ...(node.role === 'manager' ? [`demote manager ${node.hostname}`] : []),
        `remove ghost node ${node.hostname} (${node.id})`,
      ],
    };
  }
  if (node.role === 'manager') await deps.swarm.demoteNode(node);
  const removal = await removeOnce(deps, memo, node);
  if (removal === 'not-found') return removedByAnother(name, node);
  if (removal === 'not-down') return cameBack(deps, name, node, node.role, undefined, [], log);
  const detail = `${node.role} ${node.hostname} (${node.id}) was down and ${gone}: removed from the swarm, nothing terminated.`;
  log.info('removed ghost', { node: node.id, instance: instance?.id });
  await announce(deps, 'info', `Removed ghost node ${node.hostname}`, detail);
  return {
    kind: 'removed-ghost',
    target: name,
    node: node.id,
    hostname: node.hostname,
    role: node.role,
    instance: instance?.id,
    detail,
  };
}
