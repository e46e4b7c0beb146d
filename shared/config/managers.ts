import type Docker from 'dockerode';
import { createDockerClient } from '../adapters/docker';
import { managerEndpoints } from '../adapters/manager-endpoints';
import { createManagerPool, type ManagerPool } from '../adapters/manager-pool';
import { createPauseSwitch, type PauseSwitch } from '../adapters/pause-switch';
import { createParameterStore } from '../adapters/ssm';
import { createSwarmNodes } from '../adapters/swarm';
import type { TlsMaterial } from '../adapters/tls-files';
import type { ParameterStore } from '../domain/cloud';
import type { Logger } from '../domain/log';
import type { Runtime } from './runtime';
import { SECRETS_TTL_MS } from './secrets';
import type { Settings } from './settings';

export interface SwarmAccess {
  /** Every manager the functions may reach the swarm through (DOCKER_HOST, SWARM_MANAGERS, SSM). */
  managers: ManagerPool;
  /** The client for DOCKER_HOST. Rejects with a SettingsError naming what is missing when TLS is wanted and its material is not there. */
  docker(): Promise<Docker>;
  /**
   * The cluster-wide pause of this container: the SSM parameter `<SETTINGS_PREFIX>/pause` (when
   * deployed) and the swarm's label, read at most once per PAUSE_TTL_MS (30 s).
   */
  pause: PauseSwitch;
}

const built = new WeakMap<Runtime, SwarmAccess>();

/** How this container reaches the swarm, built once from its runtime: one Docker client per manager. */
export function swarmAccess(rt: Runtime): SwarmAccess {
  const existing = built.get(rt);
  if (existing) return existing;
  const { settings } = rt;
  const clientFor = dockerClients(settings, () => rt.secrets.dockerTls());
  const parameters = settings.settingsPrefix === undefined ? undefined : createParameterStore(rt.ssm);
  const managers = buildManagerPool(settings, { client: clientFor, parameters, log: rt.logger });
  const access = {
    managers,
    docker: () => clientFor(settings.docker.host),
    pause: createPauseSwitch({
      parameters: parameters && {
        store: parameters,
        name: pauseParameterName(settings.settingsPrefix ?? ''),
      },
      swarm: createSwarmNodes(managers),
    }),
  };
  built.set(rt, access);
  return access;
}

/** The SSM parameter a person sets to pause every function of a deployment (`npm run pause`). */
export const pauseParameterName = (settingsPrefix: string): string => `${settingsPrefix}/pause`;

/** One client per endpoint, rebuilt when the TLS material read (with the secrets' TTL) changed. */
export function dockerClients(
  settings: Pick<Settings, 'docker'>,
  dockerTls: () => Promise<TlsMaterial | undefined>,
): (endpoint: string) => Promise<Docker> {
  const clients = new Map<string, { material: string; docker: Docker }>();
  return async (endpoint) => {
    const tls = await dockerTls();
    const material = tls === undefined ? '' : JSON.stringify([tls.ca, tls.cert, tls.key]);
    let client = clients.get(endpoint);
    if (client?.material !== material) {
      client = { material, docker: createDockerClient({ ...settings.docker, host: endpoint }, tls) };
      clients.set(endpoint, client);
    }
    return client.docker;
  };
}

/** The manager pool of these settings: DOCKER_HOST, SWARM_MANAGERS, and (with a store) the SSM list. */
export function buildManagerPool(
  settings: Pick<Settings, 'docker' | 'settingsPrefix'>,
  deps: {
    client: (endpoint: string) => Promise<Docker>;
    parameters: Pick<ParameterStore, 'get'> | undefined;
    log?: Logger;
  },
): ManagerPool {
  return createManagerPool({
    endpoints: managerEndpoints({
      host: settings.docker.host,
      managers: settings.docker.managers,
      port: settings.docker.port,
      settingsPrefix: settings.settingsPrefix,
      parameters: deps.parameters,
      ttlMs: SECRETS_TTL_MS,
      log: deps.log,
    }),
    client: deps.client,
  });
}
