/**
 * What a person must do when the swarm has lost quorum, said the same way by every function.
 * `--force-new-cluster` on the wrong side of a partition makes a second swarm (split brain):
 * the text says to check every manager first and to run it on the surviving side only.
 */
export const QUORUM_RECOVERY_PROCEDURE =
  'First check every manager (`docker node ls` on each): a manager that sees no leader may only be cut off from a majority that still works; then nothing is to be done but restoring its network. ' +
  'Only if the majority is really gone, and on the surviving side only — never on a manager that is merely isolated, which would make a second swarm — run `docker swarm init --force-new-cluster --advertise-addr <its address>` on ONE surviving manager, ' +
  'then promote workers (`docker node promote`) or join new managers until there are 3 or 5 again.';

/** Swarmkit's rule: a raft of n managers needs more than n/2 of them reachable. */
export function hasQuorum(reachable: number, managers: number): boolean {
  return reachable > managers / 2;
}

/**
 * Whether a manager may stop being one (demoted, then removed) while the others keep a
 * majority of the managers that remain: undefined when it may, else why not. Reachability is
 * raft's, as the node list reports it.
 */
export function managerLossRefusal(
  nodes: ReadonlyArray<{ id: string; role: string; manager?: { reachability: string } | undefined }>,
  leaving: { id: string; hostname: string },
): string | undefined {
  const others = nodes.filter((n) => n.role === 'manager' && n.id !== leaving.id);
  const reachable = others.filter((m) => m.manager?.reachability === 'reachable').length;
  if (others.length > 0 && hasQuorum(reachable, others.length)) return undefined;
  return others.length === 0
    ? `${leaving.hostname} is the only manager: demoting it would leave the swarm without one. Add managers first.`
    : `demoting ${leaving.hostname} would leave ${reachable} reachable of ${others.length} managers, no majority. Restore or add a manager first.`;
}
