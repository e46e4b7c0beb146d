import type { SSMClient } from '@aws-sdk/client-ssm';
import { ssmClient } from '../adapters/aws-clients';
import { createNotifier } from '../adapters/chat';
import { createLogger, type RootLogger } from '../adapters/logger';
import type { Notifier } from '../domain/notice';
import { createSecrets, type Secrets } from './secrets';
import { loadSettings, type Settings } from './settings';

/**
 * What every function's default dependencies are built from, once per container (module
 * scope): the settings (validated at cold start, so a bad value fails the start), one
 * logger, the secrets (read from SSM with a TTL), chat. What reaches the swarm is in
 * `managers.ts`, so that a function that never talks to Docker (notify) bundles no dockerode.
 */
export interface Runtime {
  settings: Settings;
  logger: RootLogger;
  secrets: Secrets;
  /** The SSM client of this container (secrets, manager addresses, join tokens), created on first use. */
  ssm: () => Promise<SSMClient>;
  /** What an HTTP function's edge needs: the settings, the logger, the accepted webhook tokens. */
  http: { settings: Settings; logger: RootLogger; tokens: () => Promise<readonly string[]> };
  /** Chat messages from `source` to the configured targets; a failed delivery never fails a remediation. */
  notifier(source: string): Notifier;
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  if (current) return current;
  const settings = loadSettings();
  const logger = createLogger({ level: settings.logLevel });
  const secrets = createSecrets({ settings, ssm: ssmClient });
  current = {
    settings,
    logger,
    secrets,
    ssm: ssmClient,
    http: { settings, logger, tokens: () => secrets.webhookTokens() },
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
