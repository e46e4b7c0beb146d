import { classifyDockerError, classifyListError, dockerErrorMessage } from './docker';
import { VersionConflictError } from './errors';
import { type DockerSource, onDocker } from './manager-pool';

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

export function createSwarmTasks(docker: DockerSource): SwarmTasks {
  return {
    async listTasks() {
      try {
        const raw = (await onDocker(docker, (d) => d.listTasks())) as Array<{
          ID?: string;
          ServiceID?: string;
          NodeID?: string;
          Status?: { State?: string; Timestamp?: string; Err?: string; Message?: string };
          DesiredState?: string;
          CreatedAt?: string;
        }>;
        return raw.map((t) => ({
          id: t.ID ?? '',
          serviceId: t.ServiceID ?? '',
          nodeId: t.NodeID ?? '',
          state: t.Status?.State ?? 'unknown',
          desiredState: t.DesiredState ?? 'unknown',
          createdAt: t.CreatedAt ? new Date(t.CreatedAt) : undefined,
          updatedAt: t.Status?.Timestamp ? new Date(t.Status.Timestamp) : undefined,
          error: t.Status?.Err || t.Status?.Message || undefined,
        }));
      } catch (error) {
        return classifyListError(error, 'listing tasks');
      }
    },
  };
}

interface RawService {
  ID?: string;
  Version?: { Index?: number };
  UpdatedAt?: string;
  Spec?: RawServiceSpec;
}

function toServiceState(raw: RawService): ServiceState {
  const spec = raw.Spec ?? {};
  const mode = spec.Mode?.Replicated ? 'replicated' : spec.Mode?.Global ? 'global' : 'other';
  return {
    id: raw.ID ?? '',
    name: spec.Name ?? '',
    version: raw.Version?.Index ?? 0,
    mode,
    replicas: spec.Mode?.Replicated?.Replicas,
    labels: { ...(spec.Labels ?? {}) },
    updatedAt: new Date(raw.UpdatedAt ?? 0),
    spec,
  };
}

interface RawServiceSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Mode?: { Replicated?: { Replicas?: number }; Global?: object };
  [key: string]: unknown;
}

/** `docker` gives the client to use now (the runtime creates it once; later, the manager that answers). */
export function createSwarmServices(docker: DockerSource): SwarmServices {
  return {
    async inspectService(nameOrId) {
      let raw: RawService;
      try {
        raw = (await onDocker(docker, (d) => d.getService(nameOrId).inspect())) as RawService;
      } catch (error) {
        classifyDockerError(error, `reading service ${nameOrId}`);
        return undefined;
      }
      // Docker also resolves ID prefixes; an alert must name a service exactly.
      if (raw.Spec?.Name !== nameOrId && raw.ID !== nameOrId) return undefined;
      return toServiceState(raw);
    },

    async updateService(state, change) {
      const spec = state.spec as RawServiceSpec;
      const body: RawServiceSpec = {
        ...spec,
        Labels: { ...(spec.Labels ?? {}), ...change.labels },
        Mode: { Replicated: { Replicas: change.replicas } },
      };
      try {
        await onDocker(docker, (d) =>
          d.getService(state.id).update({ _query: { version: state.version }, _body: body }),
        );
      } catch (error) {
        // Removed since it was read: like any change, re-read and decide again.
        if (classifyDockerError(error, `updating service ${state.name}`) === 'not-found') {
          throw new VersionConflictError(`service ${state.name} disappeared during the update`, {
            cause: error,
          });
        }
      }
    },

    async listServices() {
      try {
        return ((await onDocker(docker, (d) => d.listServices())) as RawService[]).map(toServiceState);
      } catch (error) {
        return classifyListError(error, 'listing services');
      }
    },

    async forceUpdate(state) {
      const spec = state.spec as RawServiceSpec & { TaskTemplate?: { ForceUpdate?: number } };
      const template = spec.TaskTemplate ?? {};
      const body = { ...spec, TaskTemplate: { ...template, ForceUpdate: (template.ForceUpdate ?? 0) + 1 } };
      try {
        await onDocker(docker, (d) =>
          d.getService(state.id).update({ _query: { version: state.version }, _body: body }),
        );
      } catch (error) {
        if (classifyDockerError(error, `force-updating service ${state.name}`) === 'not-found') {
          throw new VersionConflictError(`service ${state.name} disappeared during the update`, {
            cause: error,
          });
        }
      }
    },
  };
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

interface RawNode {
  ID?: string;
  Version?: { Index?: number };
  UpdatedAt?: string;
  CreatedAt?: string;
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string>; [k: string]: unknown };
  Description?: { Hostname?: string; Engine?: { Labels?: Record<string, string> } };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

export function toNodeState(raw: RawNode): NodeState {
  const state = raw.Status?.State;
  const availability = raw.Spec?.Availability;
  return {
    id: raw.ID ?? '',
    version: raw.Version?.Index ?? 0,
    hostname: raw.Description?.Hostname ?? '',
    role: raw.Spec?.Role === 'manager' ? 'manager' : 'worker',
    availability: availability === 'drain' || availability === 'pause' ? availability : 'active',
    state: state === 'ready' || state === 'down' || state === 'disconnected' ? state : 'unknown',
    address: raw.Status?.Addr ?? '',
    updatedAt: new Date(raw.UpdatedAt ?? 0),
    engineLabels: { ...(raw.Description?.Engine?.Labels ?? {}) },
    labels: { ...(raw.Spec?.Labels ?? {}) },
    createdAt: new Date(raw.CreatedAt ?? 0),
    manager: raw.ManagerStatus
      ? {
          leader: raw.ManagerStatus.Leader === true,
          reachability: raw.ManagerStatus.Reachability ?? 'unknown',
          addr: raw.ManagerStatus.Addr ?? '',
        }
      : undefined,
    spec: raw.Spec ?? {},
  };
}

/** Swarmkit's FailedPrecondition for `node rm` without force on a node that is not down. */
const NODE_NOT_DOWN = /is not down and can't be removed/i;

export function createSwarmNodes(docker: DockerSource): SwarmNodes {
  return {
    async listNodes() {
      try {
        const raw = (await onDocker(docker, (d) => d.listNodes())) as RawNode[];
        const leader = raw.find((n) => n.ManagerStatus?.Leader === true)?.ManagerStatus?.Addr;
        // The leader answers without a forward: the pool tries it first from now on.
        if (leader && typeof docker !== 'function') docker.preferLeader(leader);
        return raw.map(toNodeState);
      } catch (error) {
        return classifyListError(error, 'listing nodes');
      }
    },

    async demoteNode(node) {
      const spec = node.spec as Record<string, unknown>;
      try {
        await onDocker(docker, (d) =>
          d
            .getNode(node.id)
            .update({ _query: { version: node.version }, _body: { ...spec, Role: 'worker' } }),
        );
      } catch (error) {
        if (classifyDockerError(error, `demoting node ${node.id}`) === 'not-found') {
          throw new VersionConflictError(`node ${node.id} disappeared during the demotion`, { cause: error });
        }
      }
    },

    async updateNode(node, change) {
      const spec = node.spec as { Labels?: Record<string, string>; Availability?: string };
      const labels: Record<string, string> = { ...(spec.Labels ?? {}) };
      for (const [k, v] of Object.entries(change.labels ?? {})) {
        if (v === undefined) delete labels[k];
        else labels[k] = v;
      }
      const body = { ...spec, Labels: labels, Availability: change.availability ?? spec.Availability };
      try {
        await onDocker(docker, (d) =>
          d.getNode(node.id).update({ _query: { version: node.version }, _body: body }),
        );
      } catch (error) {
        if (classifyDockerError(error, `updating node ${node.id}`) === 'not-found') {
          throw new VersionConflictError(`node ${node.id} disappeared during the update`, { cause: error });
        }
      }
    },

    async removeNode(nodeId, options = {}) {
      try {
        await onDocker(docker, (d) => d.getNode(nodeId).remove({ force: options.force === true }));
        return 'removed';
      } catch (error) {
        if (NODE_NOT_DOWN.test(dockerErrorMessage(error))) return 'not-down';
        return classifyDockerError(error, `removing node ${nodeId}`);
      }
    },

    async inspectSwarm() {
      let raw: {
        Version?: { Index?: number };
        Spec?: { Labels?: Record<string, string> };
        JoinTokens?: { Worker?: string; Manager?: string };
      };
      try {
        raw = (await onDocker(docker, (d) => d.swarmInspect())) as typeof raw;
      } catch (error) {
        classifyDockerError(error, 'reading the swarm');
        throw error;
      }
      return {
        version: raw.Version?.Index ?? 0,
        labels: { ...(raw.Spec?.Labels ?? {}) },
        joinTokens: { worker: raw.JoinTokens?.Worker ?? '', manager: raw.JoinTokens?.Manager ?? '' },
        spec: raw.Spec ?? {},
      };
    },

    async updateSwarm(info, change) {
      const spec = info.spec as { Labels?: Record<string, string> };
      const labels: Record<string, string> = { ...(spec.Labels ?? {}) };
      for (const [k, v] of Object.entries(change.labels ?? {})) {
        if (v === undefined) delete labels[k];
        else labels[k] = v;
      }
      const query: Record<string, unknown> = { version: info.version };
      if (change.rotateTokens) Object.assign(query, { rotateWorkerToken: true, rotateManagerToken: true });
      try {
        await onDocker(docker, (d) => d.swarmUpdate({ _query: query, _body: { ...spec, Labels: labels } }));
      } catch (error) {
        classifyDockerError(error, 'updating the swarm');
        throw error;
      }
    },
  };
}
