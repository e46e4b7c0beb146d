/** Where a node lives: its address, netns, veth, cgroup and dir, all named after its swarm and itself. */
import { basename, join } from 'node:path';
import Docker from 'dockerode';
import { PREFIX } from './names';
import type { NodeRuntime } from './types';

/** A new node `name` of the swarm in `swarmDir` on 10.88.<k>.0/24, next to the nodes it has already. */
export function describeNode(
  swarmDir: string,
  k: number,
  existing: readonly NodeRuntime[],
  role: 'manager' | 'worker',
  name: string,
): NodeRuntime {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new Error(`bad node name ${JSON.stringify(name)}`);
  if (existing.some((r) => r.node.name === name)) throw new Error(`node ${name} exists already`);
  const index = existing.length === 0 ? 1 : Math.max(...existing.map((r) => r.index)) + 1;
  if (index > 200) throw new Error('too many nodes in one test swarm');
  const dir = join(swarmDir, name);
  const socketPath = join(dir, 'docker.sock');
  if (socketPath.length > 100) throw new Error(`socket path too long for a unix socket: ${socketPath}`);
  return {
    node: {
      name,
      role,
      address: `10.88.${k}.${index + 10}`,
      socketPath,
      dockerHost: `unix://${socketPath}`,
      nodeId: '',
      pid: 0,
      configFile: join(dir, 'daemon.json'),
      pidFile: join(dir, 'docker.pid'),
    },
    index,
    dir,
    netns: `${PREFIX}${k}-${name}`,
    veth: `${PREFIX}${k}v${index}h`,
    cgroup: `${basename(swarmDir)}-${name}`,
    child: undefined,
    client: new Docker({ socketPath, timeout: 30_000 }),
  };
}
