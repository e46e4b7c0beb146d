/**
 * Forming the swarm: init on the first manager, joins, and waiting for nodes to reach a state.
 * `liveManager` is asked again on every poll: the manager that answers may change meanwhile.
 */
import type Docker from 'dockerode';
import { poll } from './poll';
import type { NodeRuntime, SwarmNode } from './types';

const SWARM_PORT = 2377;
// Overlay networks would otherwise come out of 10.0.0.0/8 and could overlap 10.88.0.0/16.
const OVERLAY_POOL = '10.201.0.0/16';

/** The part of a node that the Docker API shows and we read (dockerode types these as any). */
interface NodeInfo {
  ID: string;
  Description?: { Hostname?: string };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Reachability?: string };
}

export async function readJoinTokens(manager: Docker): Promise<{ worker: string; manager: string }> {
  const info: { JoinTokens?: { Worker?: string; Manager?: string } } = await manager.swarmInspect();
  const worker = info.JoinTokens?.Worker;
  const managerToken = info.JoinTokens?.Manager;
  if (!worker || !managerToken) throw new Error('the manager returned no join tokens');
  return { worker, manager: managerToken };
}

export async function initSwarm(runtime: NodeRuntime): Promise<void> {
  const { address } = runtime.node;
  await runtime.client.swarmInit({
    ListenAddr: `${address}:${SWARM_PORT}`,
    AdvertiseAddr: `${address}:${SWARM_PORT}`,
    DataPathAddr: address,
    DefaultAddrPool: [OVERLAY_POOL],
    SubnetSize: 24,
    Spec: { Orchestration: { TaskHistoryRetentionLimit: 2 } },
  });
  await nodeIdOf(runtime);
}

export async function joinSwarm(
  runtime: NodeRuntime,
  tokens: { worker: string; manager: string },
  managerAddress: string,
): Promise<void> {
  const { address } = runtime.node;
  await runtime.client.swarmJoin({
    ListenAddr: `${address}:${SWARM_PORT}`,
    AdvertiseAddr: `${address}:${SWARM_PORT}`,
    DataPathAddr: address,
    RemoteAddrs: [`${managerAddress}:${SWARM_PORT}`],
    JoinToken: runtime.node.role === 'manager' ? tokens.manager : tokens.worker,
  });
  await nodeIdOf(runtime);
}

/** The node's swarm ID, read from its own daemon when it was joined by someone else. */
export async function nodeIdOf(runtime: NodeRuntime): Promise<string> {
  if (runtime.node.nodeId === '' && runtime.node.pid !== 0) {
    const info: { Swarm?: { NodeID?: string } } = await runtime.client.info();
    runtime.node.nodeId = info.Swarm?.NodeID ?? '';
  }
  return runtime.node.nodeId;
}

/** Every node Ready, and every manager among them reachable. */
export async function waitForReady(liveManager: () => Docker, nodes: SwarmNode[]): Promise<void> {
  let listed: NodeInfo[] = [];
  await poll(
    `nodes ${nodes.map((n) => n.name).join(', ')} to be Ready`,
    60_000,
    async () => {
      listed = await liveManager().listNodes();
      return nodes.every((node) => {
        const info = listed.find((n) => n.ID === node.nodeId);
        if (info?.Status?.State !== 'ready') return false;
        return node.role === 'worker' || info.ManagerStatus?.Reachability === 'reachable';
      });
    },
    () =>
      `nodes: ${listed.map((n) => `${n.Description?.Hostname}=${n.Status?.State}/${n.ManagerStatus?.Reachability ?? '-'}`).join(', ')}`,
  );
}

export async function waitForNodeState(
  runtime: NodeRuntime,
  liveManager: () => Docker,
  state: 'ready' | 'down',
  timeoutMs: number,
): Promise<void> {
  let seen = 'unknown';
  await poll(
    `node ${runtime.node.name} to be ${state}`,
    timeoutMs,
    async () => {
      const id = await nodeIdOf(runtime);
      if (id === '') return false;
      const info: NodeInfo = await liveManager().getNode(id).inspect();
      seen = info.Status?.State ?? 'unknown';
      return seen === state;
    },
    () => `last state: ${seen}`,
  );
}
