import { SSMClient } from '@aws-sdk/client-ssm';
import type Docker from 'dockerode';
import { createDockerClient } from './docker';
import { lazy } from './lazy';
import { createLogger, type Logger } from './logger';
import { createNotifier, type Notifier } from './notifier';
import { createSecrets, type Secrets } from './secrets';
import { loadSettings, type Settings } from './settings';

/**
 * What every function's default dependencies are built from, once per container (module
 * scope): the settings (validated at cold start, so a bad value fails the start), one
 * logger, one SSM client (only created if SETTINGS_PREFIX is set), one Docker client (a new
 * one when its TLS material was rotated).
 */
export interface Runtime {
  settings: Settings;
  logger: Logger;
  secrets: Secrets;
  /** Rejects with a SettingsError naming what is missing when TLS is wanted and its material is not there. */
  docker(): Promise<Docker>;
  /** The one SSM client of this container, created on first use. */
  ssm(): SSMClient;
  /** Chat messages from `source` to the configured targets; a failed delivery never fails a remediation. */
  notifier(source: string): Notifier;
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  if (current) return current;
  const settings = loadSettings();
  const logger = createLogger({ level: settings.logLevel });
  const ssm = lazy(() => new SSMClient({}));
  const secrets = createSecrets({ settings, ssm });
  // Rebuilt when the TLS material read (with the secrets' TTL) is not what it was built with.
  let client: { material: string; docker: Docker } | undefined;
  current = {
    settings,
    logger,
    secrets,
    docker: async () => {
      const tls = await secrets.dockerTls();
      const material = tls === undefined ? '' : JSON.stringify([tls.ca, tls.cert, tls.key]);
      if (client?.material !== material) {
        client = { material, docker: createDockerClient(settings.docker, tls) };
      }
      return client.docker;
    },
    ssm,
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
