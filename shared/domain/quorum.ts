/**
 * What a person must do when the swarm has lost quorum, said the same way by every function.
 * `--force-new-cluster` on the wrong side of a partition makes a second swarm (split brain):
 * the text says to check every manager first and to run it on the surviving side only.
 */
export const QUORUM_RECOVERY_PROCEDURE =
  'First check every manager (`docker node ls` on each): a manager that sees no leader may only be cut off from a majority that still works; then nothing is to be done but restoring its network. ' +
  'Only if the majority is really gone, and on the surviving side only — never on a manager that is merely isolated, which would make a second swarm — run `docker swarm init --force-new-cluster --advertise-addr <its address>` on ONE surviving manager, ' +
  'then promote workers (`docker node promote`) or join new managers until there are 3 or 5 again.';
