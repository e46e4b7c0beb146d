/** A Swarm service as the domain sees it: one read gives everything a decision needs. */
export interface ServiceState {
  readonly id: string;
  readonly name: string;
  /** Swarm's version index: an update names it, and fails if the service changed since. */
  readonly version: number;
  readonly mode: 'replicated' | 'global' | 'other';
  /** Desired replicas (replicated mode only). */
  readonly replicas: number | undefined;
  /** Service labels (Spec.Labels), where the com.df.* settings and our cooldown live. */
  readonly labels: Readonly<Record<string, string>>;
  /** When the service was last updated (a scale, a force update, a deploy). */
  readonly updatedAt: Date;
  /** The full spec as read: an update must send all of it back. Opaque to the domain. */
  readonly spec: unknown;
}

export interface ServiceChange {
  replicas: number;
  /** Merged into the service labels in the same versioned update. */
  labels: Record<string, string>;
}

/** The part of the swarm that scaling services needs. */
export interface SwarmServices {
  /** By exact name or full ID; undefined when there is no such service (an ID prefix is none). */
  inspectService(nameOrId: string): Promise<ServiceState | undefined>;
  /** Throws VersionConflictError if the service changed since `state` was read. */
  updateService(state: ServiceState, change: ServiceChange): Promise<void>;
  /** Every service, from one call. A 404 is Docker unavailable, never an empty list. */
  listServices(): Promise<ServiceState[]>;
  /** `docker service update --force`: reschedules the tasks (spreads them onto new nodes). Versioned. */
  forceUpdate(state: ServiceState): Promise<void>;
}

/** A task as the sweep and scale-in need it. */
export interface TaskState {
  readonly id: string;
  readonly serviceId: string;
  readonly nodeId: string;
  readonly state: string;
  readonly desiredState: string;
  /** When the task was created (its slot was filled by it); the sweep's "since" for a task that never ran. */
  readonly createdAt?: Date;
  /** When its status last changed (Status.Timestamp). */
  readonly updatedAt?: Date;
  /** Why it is not running, as Swarm says (Status.Err, else Status.Message): "no suitable node (…)". */
  readonly error?: string;
}

/** Task states in which a task still occupies its node. */
export const ACTIVE_TASK_STATES: ReadonlySet<string> = new Set([
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
]);

export interface SwarmTasks {
  /** Every task the manager still lists (one call). */
  listTasks(): Promise<TaskState[]>;
}

/** A Swarm node as the decisions need it, from one list of all nodes. */
export interface NodeState {
  readonly id: string;
  readonly version: number;
  readonly hostname: string;
  readonly role: 'manager' | 'worker';
  readonly availability: 'active' | 'pause' | 'drain';
  /** Swarm's view: `down` once the manager missed its heartbeats (about 10 s here). */
  readonly state: 'ready' | 'down' | 'unknown' | 'disconnected';
  /** The address the node reported (its advertise / private address). */
  readonly address: string;
  /** When swarmkit last changed the node object: for a down node, when it was marked down. */
  readonly updatedAt: Date;
  /** dockerd `--label`s: the bootstrap writes `aws.instance-id` here. */
  readonly engineLabels: Readonly<Record<string, string>>;
  /** Node labels (Spec.Labels): where a scale-in in progress is recorded. */
  readonly labels: Readonly<Record<string, string>>;
  /** When the node joined the swarm. */
  readonly createdAt: Date;
  readonly manager:
    | { readonly leader: boolean; readonly reachability: string; readonly addr: string }
    | undefined;
  readonly spec: unknown;
}

export interface SwarmInfo {
  readonly version: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly joinTokens: { readonly worker: string; readonly manager: string };
  readonly spec: unknown;
}

/** The part of the swarm that node replacement and join-token upkeep need. */
export interface SwarmNodes {
  listNodes(): Promise<NodeState[]>;
  /** Versioned: throws VersionConflictError if the node changed since it was read. */
  demoteNode(node: NodeState): Promise<void>;
  /** Versioned node update: availability and/or node labels (undefined removes a label). */
  updateNode(
    node: NodeState,
    change: { availability?: 'active' | 'drain'; labels?: Record<string, string | undefined> },
  ): Promise<void>;
  /**
   * `docker node rm`: 'not-found' when it is already gone. Without `force` swarmkit itself
   * refuses a node that is Ready ('not-down'): a node that came back is never removed.
   */
  removeNode(nodeId: string, options?: { force?: boolean }): Promise<'removed' | 'not-found' | 'not-down'>;
  inspectSwarm(): Promise<SwarmInfo>;
  /** Versioned swarm update: sets (or, for undefined, removes) swarm labels; may rotate the join tokens. */
  updateSwarm(
    info: SwarmInfo,
    change: { labels?: Record<string, string | undefined>; rotateTokens?: boolean },
  ): Promise<void>;
}
