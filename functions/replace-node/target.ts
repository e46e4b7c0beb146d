import { INSTANCE_ID_LABEL } from '../../shared/domain/labels';
import { quote } from '../../shared/domain/names';
import type { NodeState } from '../../shared/domain/swarm';

/** What an alert (or a direct invocation) names: a Swarm node, an EC2 instance, or an address. */
export type Target =
  | { by: 'node'; value: string }
  | { by: 'instance-id'; value: string }
  | { by: 'address'; value: string };

/** Engine label the node bootstrap writes: which EC2 instance runs this dockerd. */

const hostname =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const instanceIdPattern = /^i-[0-9a-f]{8,17}$/;

/** Reads a target from `node` (ID or hostname) or `instance` (EC2 ID, or host:port as node-exporter reports it). */
export function parseTarget(labels: {
  node?: string;
  instance?: string;
}): Target | { invalid: string } | undefined {
  if (labels.node !== undefined && labels.node !== '') {
    return hostname.test(labels.node)
      ? { by: 'node', value: labels.node }
      : { invalid: `node label ${quote(labels.node)}` };
  }
  const instance = labels.instance;
  if (instance === undefined || instance === '') return undefined;
  if (instanceIdPattern.test(instance)) return { by: 'instance-id', value: instance };
  const host = instance.replace(/:\d{1,5}$/, '');
  // An IPv4 address is a hostname by this pattern too (labels of digits).
  if (hostname.test(host)) return { by: 'address', value: host };
  return { invalid: `instance label ${quote(instance)}` };
}

export function describeTarget(t: Target): string {
  return t.by === 'node' ? t.value : `${t.by === 'instance-id' ? 'instance' : 'address'} ${t.value}`;
}

/** The nodes a target names; when several match, the down one if it is the only one down. */
export function resolveTarget(
  nodes: readonly NodeState[],
  target: Target,
): NodeState | 'ambiguous' | undefined {
  const matches = nodes.filter((n) => {
    if (target.by === 'instance-id') return n.engineLabels[INSTANCE_ID_LABEL] === target.value;
    if (target.by === 'node') return n.id === target.value || n.hostname === target.value;
    return n.address === target.value || n.hostname === target.value;
  });
  if (matches.length <= 1) return matches[0];
  const down = matches.filter((n) => n.state === 'down');
  return down.length === 1 ? down[0] : 'ambiguous';
}
