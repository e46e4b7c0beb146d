import type { ChildProcess } from 'node:child_process';
import type Docker from 'dockerode';

export interface SwarmNode {
  name: string;
  role: 'manager' | 'worker';
  address: string;
  socketPath: string;
  dockerHost: string;
  nodeId: string;
  pid: number;
  /**
   * The daemon's `--config-file` (daemon.json; `{}` or the engine labels at start). Its
   * dockerd re-reads it on SIGHUP: labels given here, never as `--label` flags, so a reload
   * that changes them is accepted.
   */
  configFile: string;
  /** The daemon's `--pidfile`: the pid to SIGHUP for a reload. */
  pidFile: string;
}

export interface ServiceSpecInput {
  name: string;
  replicas?: number;
  mode?: 'replicated' | 'global';
  labels?: Record<string, string>;
  command?: string[];
}

export interface AddNodeOptions {
  name?: string;
  /** false: start the daemon (with the image) but leave joining to someone else. */
  join?: boolean;
  /**
   * Engine labels, i.e. what `docker info` and node.Description.Engine.Labels show. Written to
   * the node's daemon.json (not `--label` flags), so a SIGHUP reload may change them.
   */
  engineLabels?: Record<string, string>;
}

export interface TestSwarm {
  readonly nodes: SwarmNode[];
  readonly manager: SwarmNode;
  /** The temp dir holding every node's sockets, data, exec roots and `dockerd.log`. */
  readonly dir: string;
  /** The bridge's address, i.e. how the nodes reach the root namespace. */
  readonly gateway: string;
  /** What this swarm created on the host, by name; all of it is gone after teardown. */
  readonly hostResources: HostResources;
  docker(node?: SwarmNode): Docker;
  node(name: string): SwarmNode;
  joinTokens(): Promise<{ worker: string; manager: string }>;
  createService(spec: ServiceSpecInput): Promise<string>;
  waitForRunningTasks(service: string, count: number, timeoutMs?: number): Promise<void>;
  killNode(name: string): Promise<void>;
  /** Starts a killed node's dockerd again on its own data: it comes back as the same swarm node. */
  restartNode(name: string): Promise<void>;
  /**
   * Cuts the node off the swarm network (its veth down inside its own namespace): a minority
   * partition. Its unix socket still answers; a cut-off manager soon reports no leader.
   */
  isolateNode(name: string): Promise<void>;
  /** Undoes isolateNode: the node rejoins on its own. */
  reconnectNode(name: string): Promise<void>;
  waitForNodeState(name: string, state: 'ready' | 'down', timeoutMs?: number): Promise<void>;
  addNode(role: 'manager' | 'worker', opts?: AddNodeOptions): Promise<SwarmNode>;
  teardown(): Promise<void>;
}

export interface HostResources {
  bridge: string;
  netns: string[];
  veths: string[];
  cgroups: string[];
  /** The arguments of its rule in the FORWARD chain, as `iptables -S` prints them. */
  forwardRule: string[];
}

export interface StartSwarmOptions {
  managers?: number;
  workers?: number;
  /** Only used in messages, to tell several swarms of one run apart. */
  label?: string;
  log?: (message: string) => void;
}

/** One node as the swarm that started it knows it: its public face plus what it made on the host. */
export interface NodeRuntime {
  node: SwarmNode;
  index: number;
  dir: string;
  netns: string;
  veth: string;
  cgroup: string;
  child: ChildProcess | undefined;
  client: Docker;
}
