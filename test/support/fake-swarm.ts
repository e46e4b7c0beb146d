import { DependencyUnavailableError, VersionConflictError } from '../../shared/domain/errors';
import type { ServiceChange, ServiceState, SwarmServices } from '../../shared/domain/swarm';

/**
 * An in-memory swarm with Swarm's optimistic concurrency: every update must name the
 * version it read, and bumps it. Reads and writes yield to the event loop so that
 * concurrent callers really interleave.
 */
export class FakeSwarm implements Pick<SwarmServices, 'inspectService' | 'updateService'> {
  readonly services = new Map<
    string,
    {
      id: string;
      version: number;
      mode: ServiceState['mode'];
      replicas?: number;
      labels: Record<string, string>;
    }
  >();
  updates = 0;
  reads = 0;
  conflicts = 0;
  unreachable = false;

  add(
    name: string,
    options: { replicas?: number; labels?: Record<string, string>; mode?: ServiceState['mode'] } = {},
  ) {
    this.services.set(name, {
      id: `id${this.services.size.toString().padStart(23, '0')}`,
      version: 10,
      mode: options.mode ?? 'replicated',
      replicas: options.mode === 'global' ? undefined : (options.replicas ?? 1),
      labels: { ...(options.labels ?? {}) },
    });
    return this;
  }

  replicas(name: string): number | undefined {
    return this.services.get(name)?.replicas;
  }

  async inspectService(nameOrId: string): Promise<ServiceState | undefined> {
    await tick();
    this.reads++;
    if (this.unreachable) throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    const s = this.services.get(nameOrId);
    if (!s) return undefined;
    return {
      id: s.id,
      name: nameOrId,
      version: s.version,
      mode: s.mode,
      replicas: s.replicas,
      labels: { ...s.labels },
      updatedAt: new Date(0),
      spec: { Name: nameOrId },
    };
  }

  async updateService(state: ServiceState, change: ServiceChange): Promise<void> {
    await tick();
    if (this.unreachable) throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    const s = this.services.get(state.name);
    if (!s || s.version !== state.version) {
      this.conflicts++;
      throw new VersionConflictError('update out of sequence');
    }
    s.version++;
    s.replicas = change.replicas;
    Object.assign(s.labels, change.labels);
    this.updates++;
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export const fastRetry = { sleep: async () => {}, random: () => 0.5 };
