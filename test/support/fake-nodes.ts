import { QuorumLostError, VersionConflictError } from '../../shared/domain/errors';
import type { NodeState, SwarmInfo, SwarmNodes, TaskState } from '../../shared/domain/swarm';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** An in-memory swarm of nodes with Swarm's versioned updates; calls yield so callers interleave. */
export class FakeNodes implements SwarmNodes {
  nodes: Array<Mutable<NodeState>> = [];
  swarm = {
    version: 1,
    labels: {} as Record<string, string>,
    tokens: { worker: 'SWMTKN-1-worker-aaaa', manager: 'SWMTKN-1-manager-bbbb' },
  };
  removed: string[] = [];
  /** Tasks, for the functions that count them per node. */
  tasks: TaskState[] = [];
  demoted: string[] = [];
  rotations = 0;
  noLeader = false;
  /** Swarm stamps UpdatedAt on every write of a node (a demotion, a label): this clock. */
  clock: () => Date = () => new Date();

  add(
    hostname: string,
    options: Partial<Pick<NodeState, 'role' | 'state' | 'address' | 'updatedAt' | 'engineLabels'>> = {},
  ) {
    const role = options.role ?? 'worker';
    const state = options.state ?? 'ready';
    const address = options.address ?? `10.0.0.${this.nodes.length + 10}`;
    this.nodes.push({
      id: `node${hostname.padStart(21, '0')}`,
      version: 5,
      hostname,
      role,
      availability: 'active',
      state,
      address,
      updatedAt: options.updatedAt ?? new Date('2026-11-24T11:00:00Z'),
      engineLabels: options.engineLabels ?? {},
      labels: {},
      createdAt: new Date('2026-11-24T09:00:00Z'),
      manager:
        role === 'manager'
          ? {
              leader: this.nodes.length === 0,
              reachability: state === 'ready' ? 'reachable' : 'unreachable',
              addr: `${address}:2377`,
            }
          : undefined,
      spec: { Role: role, Availability: 'active' },
    });
    return this;
  }

  node(hostname: string) {
    const n = this.nodes.find((x) => x.hostname === hostname);
    if (!n) throw new Error(`no node ${hostname}`);
    return n;
  }

  /** Gives a node `count` running tasks of a service. */
  run(hostname: string, count: number, serviceId = 'svc') {
    const nodeId = this.node(hostname).id;
    for (let i = 0; i < count; i++) {
      this.tasks.push({
        id: `t${this.tasks.length}`,
        serviceId,
        nodeId,
        state: 'running',
        desiredState: 'running',
      });
    }
    return this;
  }

  async listTasks(): Promise<TaskState[]> {
    await this.guard();
    return this.tasks.map((t) => ({ ...t }));
  }

  private async guard() {
    await new Promise<void>((r) => setImmediate(r));
    if (this.noLeader) throw new QuorumLostError('the swarm does not have a leader');
  }

  async listNodes(): Promise<NodeState[]> {
    await this.guard();
    return this.nodes.map((n) => ({ ...n, engineLabels: { ...n.engineLabels } }));
  }

  async demoteNode(node: NodeState): Promise<void> {
    await this.guard();
    const n = this.nodes.find((x) => x.id === node.id);
    if (!n || n.version !== node.version) throw new VersionConflictError('update out of sequence');
    n.version++;
    n.updatedAt = this.clock();
    n.role = 'worker';
    n.manager = undefined;
    this.demoted.push(n.hostname);
  }

  async updateNode(
    node: NodeState,
    change: { availability?: 'active' | 'drain'; labels?: Record<string, string | undefined> },
  ): Promise<void> {
    await this.guard();
    const n = this.nodes.find((x) => x.id === node.id);
    if (!n || n.version !== node.version) throw new VersionConflictError('update out of sequence');
    n.version++;
    n.updatedAt = this.clock();
    if (change.availability) n.availability = change.availability;
    const labels = { ...n.labels };
    for (const [k, v] of Object.entries(change.labels ?? {})) {
      if (v === undefined) delete labels[k];
      else labels[k] = v;
    }
    n.labels = labels;
  }

  /** Swarmkit's rules: a manager must be demoted first; without force, a Ready node is refused. */
  async removeNode(
    nodeId: string,
    options: { force?: boolean } = {},
  ): Promise<'removed' | 'not-found' | 'not-down'> {
    await this.guard();
    const i = this.nodes.findIndex((x) => x.id === nodeId);
    if (i < 0) return 'not-found';
    if (this.nodes[i]?.role === 'manager') throw new Error('cannot remove a manager: demote it first');
    if (!options.force && this.nodes[i]?.state === 'ready') return 'not-down';
    this.removed.push(this.nodes[i]?.hostname ?? '');
    this.nodes.splice(i, 1);
    return 'removed';
  }

  async inspectSwarm(): Promise<SwarmInfo> {
    await this.guard();
    return {
      version: this.swarm.version,
      labels: { ...this.swarm.labels },
      joinTokens: { ...this.swarm.tokens },
      spec: {},
    };
  }

  async updateSwarm(
    info: SwarmInfo,
    change: { labels?: Record<string, string | undefined>; rotateTokens?: boolean },
  ) {
    await this.guard();
    if (info.version !== this.swarm.version) throw new VersionConflictError('update out of sequence');
    this.swarm.version++;
    for (const [k, v] of Object.entries(change.labels ?? {})) {
      if (v === undefined) delete this.swarm.labels[k];
      else this.swarm.labels[k] = v;
    }
    if (change.rotateTokens) {
      this.rotations++;
      this.swarm.tokens = {
        worker: `SWMTKN-1-worker-r${this.rotations}`,
        manager: `SWMTKN-1-manager-r${this.rotations}`,
      };
    }
  }
}

/** A notifier that remembers what it was asked to say. */
export function recordingNotifier() {
  const notices: Array<{ severity: string; title: string; text: string }> = [];
  return {
    notices,
    notify: async (n: { severity: string; title: string; text: string }) => {
      notices.push(n);
      return { delivered: 1, failed: 0 };
    },
  };
}
