import { DependencyUnavailableError, VersionConflictError } from '../../shared/domain/errors';
import type { ServiceState, SwarmServices } from '../../shared/domain/swarm';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Services for the functions that list them and force-update them (the health sweep), with
 * Swarm's versioned updates: a force update names the version it read, bumps it and moves
 * UpdatedAt to the clock's now.
 */
export class FakeServices implements Pick<SwarmServices, 'listServices' | 'forceUpdate'> {
  services: Array<Mutable<ServiceState>> = [];
  forced: string[] = [];
  /** Makes the next force update of a service fail as Swarm would. */
  failNext: Error | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  add(
    name: string,
    options: {
      replicas?: number;
      mode?: ServiceState['mode'];
      labels?: Record<string, string>;
      updatedAt?: Date;
    } = {},
  ) {
    this.services.push({
      id: `svc-${name}`,
      name,
      version: 10,
      mode: options.mode ?? 'replicated',
      replicas: options.mode === 'global' ? undefined : (options.replicas ?? 1),
      labels: { ...(options.labels ?? {}) },
      updatedAt: options.updatedAt ?? new Date('2026-11-24T10:00:00Z'),
      spec: { Name: name },
    });
    return this;
  }

  service(name: string) {
    const s = this.services.find((x) => x.name === name);
    if (!s) throw new Error(`no service ${name}`);
    return s;
  }

  async listServices(): Promise<ServiceState[]> {
    await tick();
    return this.services.map((s) => ({ ...s, labels: { ...s.labels } }));
  }

  async forceUpdate(state: ServiceState): Promise<void> {
    await tick();
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    const s = this.services.find((x) => x.id === state.id);
    if (!s || s.version !== state.version) throw new VersionConflictError('update out of sequence');
    s.version++;
    s.updatedAt = this.now();
    this.forced.push(s.name);
  }
}

export const dockerDown = () => new DependencyUnavailableError('docker', 'connect ECONNREFUSED');

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
