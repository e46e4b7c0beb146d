/**
 * One running swarm: its nodes, and what it made on the host (recorded in its meta before it
 * is made). Teardown also runs when the process exits without it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type Docker from 'dockerode';
import { onProcessExit } from '../exit-hooks';
import { isAlive, kill, processStart, sleep } from '../proc';
import { startDaemon } from './daemon';
import { destroyResources } from './destroy';
import { killNode, restartNode } from './faults';
import { initSwarm, joinSwarm, readJoinTokens, waitForNodeState, waitForReady } from './form';
import { importBusybox } from './image';
import { type SwarmMeta, writeMeta } from './meta';
import { SWARM_DIR_PREFIX } from './names';
import { claimNetwork, createNodeNetwork, setNodeLink } from './netns';
import { describeNode } from './node';
import { createService, waitForRunningTasks } from './services';
import type {
  AddNodeOptions,
  HostResources,
  NodeRuntime,
  ServiceSpecInput,
  StartSwarmOptions,
  SwarmNode,
  TestSwarm,
} from './types';

export class SwarmHandle implements TestSwarm {
  private readonly runtimes: NodeRuntime[] = [];
  /** Nodes cut off by isolateNode: never asked about the swarm (they see no leader). */
  private readonly isolated = new Set<string>();
  private tornDown: Promise<void> | undefined;
  private readonly unregisterExitHook: () => void;

  private constructor(
    readonly dir: string,
    private readonly meta: SwarmMeta,
    private readonly opts: StartSwarmOptions,
  ) {
    this.unregisterExitHook = onProcessExit(() => this.teardownSync());
  }

  static async create(opts: StartSwarmOptions): Promise<SwarmHandle> {
    const dir = mkdtempSync(join(tmpdir(), SWARM_DIR_PREFIX));
    const ownerStart = processStart(process.pid) ?? '';
    const meta: SwarmMeta = {
      ownerPid: process.pid,
      ownerStart,
      index: 0,
      bridge: '',
      rule: [],
      netns: [],
      veths: [],
      cgroups: [],
    };
    writeMeta(dir, meta);
    const swarm = new SwarmHandle(dir, meta, opts);
    try {
      await claimNetwork(dir, meta, (message) => swarm.log(message));
    } catch (err) {
      await swarm.teardown();
      throw err;
    }
    return swarm;
  }

  get nodes(): SwarmNode[] {
    return this.runtimes.map((r) => r.node);
  }

  get manager(): SwarmNode {
    const first = this.runtimes.find((r) => r.node.role === 'manager');
    if (!first) throw new Error('this swarm has no manager');
    return first.node;
  }

  get gateway(): string {
    return `10.88.${this.meta.index}.1`;
  }

  get hostResources(): HostResources {
    const { bridge, netns, veths, cgroups, rule } = this.meta;
    return { bridge, netns: [...netns], veths: [...veths], cgroups: [...cgroups], forwardRule: [...rule] };
  }

  docker(node: SwarmNode = this.manager): Docker {
    return this.runtime(node.name).client;
  }

  node(name: string): SwarmNode {
    return this.runtime(name).node;
  }

  async joinTokens(): Promise<{ worker: string; manager: string }> {
    return readJoinTokens(this.liveManager());
  }

  async createService(spec: ServiceSpecInput): Promise<string> {
    return createService(this.liveManager(), spec);
  }

  async waitForRunningTasks(service: string, count: number, timeoutMs = 60_000): Promise<void> {
    await waitForRunningTasks(() => this.liveManager(), service, count, timeoutMs);
  }

  async killNode(name: string): Promise<void> {
    await killNode(this.runtime(name));
    this.log(`killed ${name}`);
  }

  async restartNode(name: string): Promise<void> {
    await restartNode(this.runtime(name), this.meta.index);
    this.log(`restarted ${name}`);
  }

  async isolateNode(name: string): Promise<void> {
    await setNodeLink(this.runtime(name), 'down');
    this.isolated.add(name);
    this.log(`isolated ${name}`);
  }

  async reconnectNode(name: string): Promise<void> {
    await setNodeLink(this.runtime(name), 'up');
    this.isolated.delete(name);
    this.log(`reconnected ${name}`);
  }

  async waitForNodeState(name: string, state: 'ready' | 'down', timeoutMs = 60_000): Promise<void> {
    await waitForNodeState(this.runtime(name), () => this.liveManager(), state, timeoutMs);
  }

  async addNode(role: 'manager' | 'worker', opts: AddNodeOptions = {}): Promise<SwarmNode> {
    const name = opts.name ?? this.nextName(role);
    const runtime = await this.startNode(role, name, opts.engineLabels ?? {});
    if (opts.join !== false) {
      await this.join(runtime);
      await this.waitForReady([runtime.node]);
    }
    return runtime.node;
  }

  teardown(): Promise<void> {
    this.tornDown ??= this.teardownAsync();
    return this.tornDown;
  }

  // -------------------------------------------------------------------------------------
  // Starting and forming, for startSwarm and addNode

  async startNode(
    role: 'manager' | 'worker',
    name: string,
    engineLabels: Record<string, string>,
  ): Promise<NodeRuntime> {
    const runtime = describeNode(this.dir, this.meta.index, this.runtimes, role, name);
    this.runtimes.push(runtime);
    this.meta.netns.push(runtime.netns);
    this.meta.veths.push(runtime.veth);
    this.meta.cgroups.push(runtime.cgroup);
    writeMeta(this.dir, this.meta);

    const started = Date.now();
    await createNodeNetwork(runtime, this.meta.bridge);
    await startDaemon(runtime, engineLabels, this.meta.index);
    await importBusybox(runtime.client);
    this.log(
      `${name} (${role}) up at ${runtime.node.address}, pid ${runtime.node.pid}, in ${Date.now() - started} ms`,
    );
    return runtime;
  }

  async init(runtime: NodeRuntime): Promise<void> {
    await initSwarm(runtime);
    this.log(`swarm init on ${runtime.node.name}, node ${runtime.node.nodeId}`);
  }

  async join(runtime: NodeRuntime): Promise<void> {
    await joinSwarm(runtime, await this.joinTokens(), this.manager.address);
    this.log(`${runtime.node.name} joined as ${runtime.node.role}, node ${runtime.node.nodeId}`);
  }

  async waitForReady(nodes: SwarmNode[]): Promise<void> {
    await waitForReady(() => this.liveManager(), nodes);
  }

  // -------------------------------------------------------------------------------------

  private log(message: string): void {
    this.opts.log?.(
      `[swarm${this.opts.label ? ` ${this.opts.label}` : ''} ${basename(this.dir)}] ${message}`,
    );
  }

  private runtime(name: string): NodeRuntime {
    const runtime = this.runtimes.find((r) => r.node.name === name);
    if (!runtime)
      throw new Error(`no node ${name} in this swarm (${this.nodes.map((n) => n.name).join(', ')})`);
    return runtime;
  }

  /** The first manager whose daemon is still running: the one to ask about the swarm. */
  private liveManager(): Docker {
    const runtime = this.runtimes.find(
      (r) =>
        r.node.role === 'manager' &&
        r.node.pid !== 0 &&
        r.node.nodeId !== '' &&
        !this.isolated.has(r.node.name),
    );
    if (!runtime) throw new Error('no manager of this swarm is running');
    return runtime.client;
  }

  private nextName(role: 'manager' | 'worker'): string {
    const letter = role === 'manager' ? 'm' : 'w';
    for (let i = 1; ; i++) {
      if (!this.runtimes.some((r) => r.node.name === `${letter}${i}`)) return `${letter}${i}`;
    }
  }

  private async teardownAsync(): Promise<void> {
    this.unregisterExitHook();
    const started = Date.now();
    // Ask nicely first so the daemons undo their own mounts; whatever remains gets SIGKILL below.
    const daemons = this.runtimes.map((r) => r.node.pid).filter(isAlive);
    for (const pid of daemons) kill(pid, 'SIGTERM');
    const deadline = Date.now() + 3_000;
    while (daemons.some(isAlive) && Date.now() < deadline) await sleep(50);
    destroyResources(this.dir, this.meta);
    for (const runtime of this.runtimes) runtime.node.pid = 0;
    this.log(`torn down in ${Date.now() - started} ms`);
  }

  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = Promise.resolve();
    destroyResources(this.dir, this.meta);
    for (const runtime of this.runtimes) runtime.node.pid = 0;
  }
}
