import type Docker from 'dockerode';
import { classifyDockerError } from './docker';
import { VersionConflictError } from './errors';

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
  /** By exact name or full ID; undefined when there is no such service. */
  inspectService(nameOrId: string): Promise<ServiceState | undefined>;
  /** Throws VersionConflictError if the service changed since `state` was read. */
  updateService(state: ServiceState, change: ServiceChange): Promise<void>;
}

interface RawServiceSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Mode?: { Replicated?: { Replicas?: number }; Global?: object };
  [key: string]: unknown;
}

/** `docker` gives the client to use now (the runtime creates it once; later, the manager that answers). */
export function createSwarmServices(docker: () => Promise<Docker>): SwarmServices {
  return {
    async inspectService(nameOrId) {
      let raw: { ID?: string; Version?: { Index?: number }; Spec?: RawServiceSpec };
      try {
        raw = (await (await docker()).getService(nameOrId).inspect()) as typeof raw;
      } catch (error) {
        classifyDockerError(error, `reading service ${nameOrId}`);
        return undefined;
      }
      const spec = raw.Spec ?? {};
      // Docker also resolves ID prefixes; an alert must name a service exactly.
      if (spec.Name !== nameOrId && raw.ID !== nameOrId) return undefined;
      const mode = spec.Mode?.Replicated ? 'replicated' : spec.Mode?.Global ? 'global' : 'other';
      return {
        id: raw.ID ?? nameOrId,
        name: spec.Name ?? nameOrId,
        version: raw.Version?.Index ?? 0,
        mode,
        replicas: spec.Mode?.Replicated?.Replicas,
        labels: { ...(spec.Labels ?? {}) },
        spec,
      };
    },

    async updateService(state, change) {
      const spec = state.spec as RawServiceSpec;
      const body: RawServiceSpec = {
        ...spec,
        Labels: { ...(spec.Labels ?? {}), ...change.labels },
        Mode: { Replicated: { Replicas: change.replicas } },
      };
      try {
        await (await docker())
          .getService(state.id)
          .update({ _query: { version: state.version }, _body: body });
      } catch (error) {
        // Removed since it was read: like any change, re-read and decide again.
        if (classifyDockerError(error, `updating service ${state.name}`) === 'not-found') {
          throw new VersionConflictError(`service ${state.name} disappeared during the update`, {
            cause: error,
          });
        }
      }
    },
  };
}
