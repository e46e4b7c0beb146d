import type { NodeState } from './swarm';

/**
 * Where a new node finds what it needs to join, under `<SETTINGS_PREFIX>/swarm/`: the join
 * tokens (SecureString, read only by sync-join-tokens and the instances) and the reachable
 * managers' addresses (String, also checked by the health sweep).
 */
export function joinParameterNames(settingsPrefix: string) {
  const base = `${settingsPrefix}/swarm`;
  return {
    worker: `${base}/join-token-worker`,
    manager: `${base}/join-token-manager`,
    managers: `${base}/manager-addresses`,
  };
}

/** Reachable managers' swarm addresses (host:2377), sorted so that order changes are not changes. */
export function managerAddresses(nodes: readonly NodeState[]): string[] {
  return nodes
    .filter((n) => n.role === 'manager' && n.manager?.reachability === 'reachable' && n.manager.addr !== '')
    .map((n) => n.manager?.addr ?? '')
    .sort();
}
