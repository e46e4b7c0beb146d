import type Docker from 'dockerode';
import { type AwsClients, awsClients } from '../adapters/aws-clients';
import { createNotifier } from '../adapters/chat';
import { createDockerClient, type TlsMaterial } from '../adapters/docker';
import { createLogger, type RootLogger } from '../adapters/logger';
import { managerEndpoints } from '../adapters/manager-endpoints';
import { createManagerPool, type ManagerPool } from '../adapters/manager-pool';
import { createParameterStore } from '../adapters/ssm';
import type { ParameterStore } from '../domain/cloud';
import type { Logger } from '../domain/log';
import type { Notifier } from '../domain/notice';
import { createSecrets, SECRETS_TTL_MS, type Secrets } from './secrets';
import { loadSettings, type Settings } from './settings';

/**
 * What every function's default dependencies are built from, once per container (module
 * scope): the settings (validated at cold start, so a bad value fails the start), one
 * logger, the AWS SDK clients (each built, and its module loaded, on first use), one Docker
 * client per manager (a new one when its TLS material was rotated).
 */
export interface Runtime {
  settings: Settings;
  logger: RootLogger;
  secrets: Secrets;
  /** The client for DOCKER_HOST. Rejects with a SettingsError naming what is missing when TLS is wanted and its material is not there. */
  docker(): Promise<Docker>;
  /** Every manager the functions may reach the swarm through (DOCKER_HOST, SWARM_MANAGERS, SSM). */
  managers: ManagerPool;
  /** The AWS SDK clients of this container, each created on first use. */
  aws: AwsClients;
  /** Chat messages from `source` to the configured targets; a failed delivery never fails a remediation. */
  notifier(source: string): Notifier;
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  if (current) return current;
  const settings = loadSettings();
  const logger = createLogger({ level: settings.logLevel });
  const aws = awsClients();
  const secrets = createSecrets({ settings, ssm: aws.ssm });
  const clientFor = dockerClients(settings, () => secrets.dockerTls());
  const managers = buildManagerPool(settings, {
    client: clientFor,
    parameters: settings.settingsPrefix === undefined ? undefined : createParameterStore(aws.ssm),
    log: logger,
  });
  current = {
    settings,
    logger,
    secrets,
    docker: () => clientFor(settings.docker.host),
    managers,
    aws,
    notifier: (source) =>
      createNotifier({
        source,
        targets: () => secrets.chatTargets(),
        timeoutMs: settings.notifyTimeoutMs,
        log: logger.child({ function: source }),
      }),
  };
  return current;
}

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
