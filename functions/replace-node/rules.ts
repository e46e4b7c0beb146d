import type { InstanceInfo } from '../../shared/domain/cloud';
import { nodesBackedBy } from '../../shared/domain/instance-nodes';
import { INSTANCE_ID_LABEL } from '../../shared/domain/labels';
import type { Notice } from '../../shared/domain/notice';
import { hasQuorum, QUORUM_RECOVERY_PROCEDURE } from '../../shared/domain/quorum';
import type { NodeState } from '../../shared/domain/swarm';

export type RefuseReason =
  | 'unknown-node'
  | 'ambiguous-target'
  | 'node-not-down'
  | 'node-came-back'
  | 'within-grace'
  | 'quorum-lost'
  | 'would-lose-quorum'
  | 'storm'
  | 'rate-limited'
  | 'no-instance'
  | 'not-cluster-instance'
  | 'instance-in-use'
  | 'stale-tags'
  | 'scaling-in'
  | 'leaving'
  /** A person opted the node out (shared/domain/opt-out): the label, or their drain / pause. */
  | 'excluded'
  | 'maintenance';

export interface SafetySettings {
  nodeDownGraceSeconds: number;
  maxDownShare: number;
  maxReplacementsPerHour: number;
}

export type Verdict =
  | { kind: 'proceed' }
  | { kind: 'refuse'; reason: RefuseReason; detail: string; severity: Notice['severity'] | undefined };

const refuse = (reason: RefuseReason, detail: string, severity?: Notice['severity']): Verdict => ({
  kind: 'refuse',
  reason,
  detail,
  severity,
});

/** How many nodes may be down at once before it is a partition, not a failure: never fewer than one. */
export function stormLimit(total: number, share: number): number {
  return Math.max(1, Math.floor(total * share));
}

export const RECOVERY_PROCEDURE = `${QUORUM_RECOVERY_PROCEDURE} Nothing was removed or terminated.`;

/** The quorum as the listed managers' reachability tells it; undefined when it holds. */
export function quorumRefusal(nodes: readonly NodeState[]): Verdict | undefined {
  const managers = nodes.filter((n) => n.role === 'manager');
  const reachable = managers.filter((m) => m.manager?.reachability === 'reachable');
  if (hasQuorum(reachable.length, managers.length)) return undefined;
  return refuse(
    'quorum-lost',
    `only ${reachable.length} of ${managers.length} managers are reachable: the swarm has lost quorum. ${RECOVERY_PROCEDURE}`,
    'critical',
  );
}

/**
 * The safety rules, all required (fail closed). Pure: the view of the swarm, the target,
 * the time, how many other replacements were claimed in the last hour, and since when the
 * node is down (`downSince`: its UpdatedAt, or the time our own claim recorded before a
 * demotion moved UpdatedAt).
 */
export function decideReplacement(
  nodes: readonly NodeState[],
  node: NodeState,
  now: Date,
  settings: SafetySettings,
  recentReplacements: number,
  downSince: Date = node.updatedAt,
  ghosts: ReadonlySet<string> = new Set(),
): Verdict {
  const lost = quorumRefusal(nodes);
  if (lost) return lost;
  if (node.state !== 'down') {
    return refuse('node-not-down', `node ${node.hostname} is ${node.state}, not down`);
  }
  const downFor = now.getTime() - downSince.getTime();
  if (downFor < settings.nodeDownGraceSeconds * 1_000) {
    return refuse(
      'within-grace',
      `node ${node.hostname} is down since ${downSince.toISOString()}, less than the grace period of ${settings.nodeDownGraceSeconds} s`,
    );
  }
  // Ghosts (down, their instance confirmed gone) are leftovers, not failures: not a storm.
  const down = nodes.filter((n) => n.state === 'down' && !ghosts.has(n.id)).length;
  const limit = stormLimit(nodes.length, settings.maxDownShare);
  if (down > limit) {
    return refuse(
      'storm',
      `${down} of ${nodes.length} nodes are down (more than ${limit}): that looks like a partition or an outage, not a node failure. Check the network and the availability zones; replace nodes by hand once the cause is known.`,
      'critical',
    );
  }
  const managerRule = managerRemoval(nodes, node);
  if (managerRule) return managerRule;
  if (recentReplacements >= settings.maxReplacementsPerHour) {
    return refuse(
      'rate-limited',
      `${recentReplacements} nodes were replaced in the last hour (limit ${settings.maxReplacementsPerHour}). Look at why nodes keep failing; raise MAX_REPLACEMENTS_PER_HOUR to allow more.`,
      'warning',
    );
  }
  return { kind: 'proceed' };
}

/**
 * A ghost — a down node whose own instance is confirmed gone — leaves the swarm without the
 * storm guard or the hourly limit (nothing is terminated, the machine cannot come back), but
 * after the same grace period as any node (a confirmation can be wrong for a few seconds:
 * EC2 is eventually consistent) and quorum-safe: a ghost manager is demoted only when the rest
 * keep a majority.
 */
export function decideGhostRemoval(
  nodes: readonly NodeState[],
  node: NodeState,
  now: Date,
  graceSeconds: number,
  downSince: Date,
): Verdict {
  const lost = quorumRefusal(nodes);
  if (lost) return lost;
  if (node.state !== 'down') {
    return refuse('node-not-down', `node ${node.hostname} is ${node.state}, not down`);
  }
  if (now.getTime() - downSince.getTime() < graceSeconds * 1_000) {
    return refuse(
      'within-grace',
      `node ${node.hostname} is down since ${downSince.toISOString()}, less than the grace period of ${graceSeconds} s`,
    );
  }
  return managerRemoval(nodes, node) ?? { kind: 'proceed' };
}

function managerRemoval(nodes: readonly NodeState[], node: NodeState): Verdict | undefined {
  if (node.role === 'manager') {
    const managers = nodes.filter((n) => n.role === 'manager');
    const remaining = managers.length - 1;
    const remainingReachable = managers.filter(
      (m) => m.id !== node.id && m.manager?.reachability === 'reachable',
    ).length;
    if (!hasQuorum(remainingReachable, remaining)) {
      return refuse(
        'would-lose-quorum',
        `removing manager ${node.hostname} would leave ${remainingReachable} reachable of ${remaining} managers, no majority. Restore a manager first.`,
        'critical',
      );
    }
  }
  return undefined;
}

/** Whether the instance behind `node` may be tagged and terminated; undefined when it may. */
export function checkInstance(
  instance: InstanceInfo | undefined,
  clusterTag: { key: string; value: string } | undefined,
  node: NodeState,
  nodes: readonly NodeState[],
): { reason: RefuseReason; detail: string } | undefined {
  if (!instance) {
    return {
      reason: 'no-instance',
      detail: `no EC2 instance of this cluster found for node ${node.hostname} (engine label ${INSTANCE_ID_LABEL} or address ${node.address || 'unknown'})`,
    };
  }
  if (!clusterTag || instance.tags[clusterTag.key] !== clusterTag.value) {
    return {
      reason: 'not-cluster-instance',
      detail: `instance ${instance.id} of node ${node.hostname} does not carry this cluster's tag ${clusterTag?.key}=${clusterTag?.value}; not touching it`,
    };
  }
  if (
    node.engineLabels[INSTANCE_ID_LABEL] === undefined &&
    instance.launchTime !== undefined &&
    instance.launchTime.getTime() > node.createdAt.getTime()
  ) {
    return {
      reason: 'instance-in-use',
      detail: `instance ${instance.id} at ${node.hostname}'s address was launched ${instance.launchTime.toISOString()}, after the node joined (${node.createdAt.toISOString()}): it is not that node's (the address was reused)`,
    };
  }
  const others = nodesBackedBy(instance, nodes, node.id);
  if (others.length > 0) {
    return {
      reason: 'instance-in-use',
      detail: `instance ${instance.id} (${instance.privateIp ?? 'no address'}) also backs node ${others.map((n) => `${n.hostname} (${n.id}, ${n.state})`).join(', ')}: it is not ${node.hostname}'s to terminate (its address was probably reused). Remove ${node.hostname} by hand: docker node rm ${node.id}`,
    };
  }
  return undefined;
}
