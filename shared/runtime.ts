import { SSMClient } from '@aws-sdk/client-ssm';
import type Docker from 'dockerode';
import { createDockerClient } from './docker';
import { createLogger, type Logger } from './logger';
import { createSecrets, type Secrets } from './secrets';
import { loadSettings, type Settings } from './settings';

/**
 * What every function's default dependencies are built from, once per container (module
 * scope): the settings (validated at cold start, so a bad value fails the start), one
 * logger, one SSM client (only created if SETTINGS_PREFIX is set), one Docker client.
 */
export interface Runtime {
  settings: Settings;
  logger: Logger;
  secrets: Secrets;
  docker(): Promise<Docker>;
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  if (current) return current;
  const settings = loadSettings();
  const logger = createLogger({ level: settings.logLevel });
  let ssm: SSMClient | undefined;
  const secrets = createSecrets({
    settings,
    ssm: () => {
      ssm ??= new SSMClient({});
      return ssm;
    },
  });
  let docker: Promise<Docker> | undefined;
  current = {
    settings,
    logger,
    secrets,
    docker: () => {
      docker ??= secrets.dockerTls().then((tls) => createDockerClient(settings.docker, tls));
      // A failed TLS read must not be cached forever.
      docker.catch(() => {
        docker = undefined;
      });
      return docker;
    },
  };
  return current;
}
