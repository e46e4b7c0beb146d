/** A node's machine dying, and coming back on its own data. (Partitions: `setNodeLink` in netns.ts.) */
import { isAlive, kill, pidsMentioning } from '../proc';
import { cgroupDirs, cgroupPids } from './cgroups';
import { readEngineLabels, startDaemon } from './daemon';
import { poll } from './poll';
import type { NodeRuntime } from './types';

/** Simulates the machine dying: SIGKILL its dockerd, containerd, shims and containers. */
export async function killNode(runtime: NodeRuntime): Promise<void> {
  const pids = [
    runtime.node.pid,
    ...pidsMentioning(`${runtime.dir}/`),
    ...cgroupDirs(runtime.cgroup).flatMap(cgroupPids),
  ].filter(isAlive);
  for (const pid of pids) kill(pid, 'SIGKILL');
  await poll(`node ${runtime.node.name}'s processes to exit`, 10_000, async () => !pids.some(isAlive));
  runtime.node.pid = 0;
}

/** Starts a killed node's dockerd again, with the engine labels its daemon.json has now. */
export async function restartNode(runtime: NodeRuntime, k: number): Promise<void> {
  const { name, pid, configFile } = runtime.node;
  if (pid !== 0 && isAlive(pid)) throw new Error(`node ${name} is still running`);
  await startDaemon(runtime, readEngineLabels(configFile), k);
}
