import { harnessUnavailableReason } from './availability';
import { cleanupLeftoversSync } from './cleanup';
import { SwarmHandle } from './handle';
import type { StartSwarmOptions, TestSwarm } from './types';

/** Starts `managers` (default 1) + `workers` (default 0) nodes, the first manager init'ed, all Ready. */
export async function startSwarm(opts: StartSwarmOptions = {}): Promise<TestSwarm> {
  const reason = harnessUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start a test swarm: ${reason}`);
  const managers = opts.managers ?? 1;
  const workers = opts.workers ?? 0;
  if (!Number.isInteger(managers) || managers < 1) throw new Error('a swarm needs at least one manager');
  if (!Number.isInteger(workers) || workers < 0) throw new Error('workers must be a whole number >= 0');

  cleanupLeftoversSync();
  const swarm = await SwarmHandle.create(opts);
  try {
    const specs = [
      ...Array.from({ length: managers }, (_, i) => ({ role: 'manager' as const, name: `m${i + 1}` })),
      ...Array.from({ length: workers }, (_, i) => ({ role: 'worker' as const, name: `w${i + 1}` })),
    ];
    const started = await Promise.all(specs.map((spec) => swarm.startNode(spec.role, spec.name, {})));
    const [first, ...rest] = started;
    if (!first) throw new Error('no node started');
    await swarm.init(first);
    // Raft takes members one at a time; workers can come all at once.
    for (const runtime of rest.filter((r) => r.node.role === 'manager')) await swarm.join(runtime);
    await Promise.all(rest.filter((r) => r.node.role === 'worker').map((r) => swarm.join(r)));
    await swarm.waitForReady(started.map((r) => r.node));
    return swarm;
  } catch (err) {
    await swarm.teardown();
    throw err;
  }
}
