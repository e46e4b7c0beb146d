import type { InstanceInfo } from './cloud';
import { INSTANCE_ID_LABEL } from './labels';
import type { NodeState } from './swarm';

/**
 * Whether a node runs on this instance: by its engine label `aws.instance-id`, or by address.
 * EC2 reuses a private address as soon as an instance is gone, so either match is enough to
 * keep our hands off another node's instance (fail closed).
 */
export function backs(instance: Pick<InstanceInfo, 'id' | 'privateIp'>, node: NodeState): boolean {
  if (node.engineLabels[INSTANCE_ID_LABEL] === instance.id) return true;
  return instance.privateIp !== undefined && instance.privateIp !== '' && node.address === instance.privateIp;
}

/** The listed nodes, other than `exceptId`, that run on this instance (see `backs`). */
export function nodesBackedBy(
  instance: Pick<InstanceInfo, 'id' | 'privateIp'>,
  nodes: readonly NodeState[],
  exceptId?: string,
): NodeState[] {
  return nodes.filter((n) => n.id !== exceptId && backs(instance, n));
}

/**
 * The one node an instance runs: `none` when no node is on it, `ambiguous` when several are
 * (a reused address, or a node that joined again under a new ID): then nothing is done to any.
 */
export function nodeOnInstance(
  instance: Pick<InstanceInfo, 'id' | 'privateIp'>,
  nodes: readonly NodeState[],
): { node: NodeState } | { none: true } | { ambiguous: NodeState[] } {
  const found = nodesBackedBy(instance, nodes);
  if (found.length === 0) return { none: true };
  const [only] = found;
  return found.length === 1 && only ? { node: only } : { ambiguous: found };
}
