import { VersionConflictError } from '../domain/errors';
import type { NodeState, ServiceState, SwarmNodes, SwarmServices, SwarmTasks } from '../domain/swarm';
import { classifyDockerError, classifyListError, dockerErrorMessage } from './docker';
import { type DockerSource, onDocker } from './manager-pool';

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
