/**
 * Real, isolated multi-node Docker Swarms on one machine, for `npm start` and the integration
 * tests (which reach it through test/harness).
 *
 * Every node is a dockerd (daemon.ts) in its own network namespace on a per-swarm bridge
 * (netns.ts), all under one temp dir per swarm; what a swarm creates on the host is recorded
 * first (meta.ts), so that crashed runs can be cleaned up (cleanup.ts) and torn down
 * (destroy.ts). handle.ts is one running swarm; faults.ts, services.ts and form.ts act on it.
 */
export { harnessUnavailableReason } from './availability';
export { cleanupLeftovers } from './cleanup';
export { BUSYBOX_IMAGE } from './names';
export { startSwarm } from './start';
export type {
  AddNodeOptions,
  HostResources,
  ServiceSpecInput,
  StartSwarmOptions,
  SwarmNode,
  TestSwarm,
} from './types';
