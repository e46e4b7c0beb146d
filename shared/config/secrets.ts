import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ClientSource } from '../adapters/aws';
import { readTlsFiles, type TlsMaterial } from '../adapters/tls-files';
import { DependencyUnavailableError, SettingsError } from '../domain/errors';
import type { ChatTarget } from '../domain/notice';
import type { Settings } from './settings';

/**
 * Secrets that live in SSM Parameter Store under SETTINGS_PREFIX when deployed, as
 * SecureStrings, read together and cached for a while so a warm function makes no SSM call
 * on most requests and a rotation is picked up within the TTL. Without SETTINGS_PREFIX
 * (local runs, tests) only the environment's values are used and SSM is never called.
 *
 * Parameter names under `<SETTINGS_PREFIX>/secrets` (a path of its own, so that a role
 * allowed to read it is not also allowed to read the join tokens under `<prefix>/swarm`):
 *   webhook-tokens     comma-separated accepted tokens (added to WEBHOOK_TOKENS)
 *   docker-tls-ca / docker-tls-cert / docker-tls-key   PEM, for DOCKER_HOST=tcp://… with TLS
 *   slack-webhook-url  chat target (overrides SLACK_WEBHOOK_URL)
 */
/** How long secrets (and the manager addresses) read from SSM are kept before they are read again. */
export const SECRETS_TTL_MS = 5 * 60_000;

export interface Secrets {
  webhookTokens(): Promise<readonly string[]>;
  /**
   * The client's TLS material for a tcp DOCKER_HOST, read again after the TTL like every
   * secret (a rotation is picked up without a redeploy): from SSM, else from DOCKER_CERT_PATH.
   * Undefined only when TLS is not wanted (a unix socket; tcp with DOCKER_TLS_VERIFY off and
   * no material in SSM). When it is wanted and missing, a SettingsError names what is missing:
   * never plain HTTP instead.
   */
  dockerTls(): Promise<TlsMaterial | undefined>;
  /** Chat targets: the SSM slack-webhook-url wins over SLACK_WEBHOOK_URL. */
  chatTargets(): Promise<readonly ChatTarget[]>;
}

export function secretsPath(settingsPrefix: string): string {
  return `${settingsPrefix}/secrets`;
}

export const SECRET_NAMES = [
  'webhook-tokens',
  'docker-tls-ca',
  'docker-tls-cert',
  'docker-tls-key',
  'slack-webhook-url',
];

const TLS_PARTS = ['ca', 'cert', 'key'] as const;

export function createSecrets(options: {
  settings: Pick<
    Settings,
    'settingsPrefix' | 'webhookTokens' | 'slackWebhookUrl' | 'notifyWebhookUrl' | 'docker'
  >;
  ssm: ClientSource<SSMClient>;
  ttlMs?: number;
  now?: () => number;
}): Secrets {
  const { settings } = options;
  const ttl = options.ttlMs ?? SECRETS_TTL_MS;
  const now = options.now ?? (() => Date.now());
  let cache: { at: number; values: Map<string, string> } | undefined;
  let files: { at: number; material: TlsMaterial } | undefined;
  let inflight: Promise<Map<string, string>> | undefined;

  const load = async (): Promise<Map<string, string>> => {
    if (settings.settingsPrefix === undefined) return new Map();
    const prefix = secretsPath(settings.settingsPrefix);
    if (cache && now() - cache.at < ttl) return cache.values;
    inflight ??= fetchAll(options.ssm, prefix)
      .then((values) => {
        cache = { at: now(), values };
        return values;
      })
      .catch((error: unknown) => {
        // A stale secret beats none: SSM throttling must not lock Alertmanager out.
        if (cache) return cache.values;
        throw new DependencyUnavailableError('aws', `reading secrets under ${prefix} failed`, {
          cause: error,
        });
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  return {
    async webhookTokens() {
      const fromSsm = (await load()).get('webhook-tokens');
      const extra = (fromSsm ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length >= 16);
      return [...settings.webhookTokens, ...extra];
    },
    async dockerTls() {
      const { docker } = settings;
      if (!docker.host.startsWith('tcp://')) return undefined;
      if (settings.settingsPrefix !== undefined) {
        const values = await load();
        const [ca, cert, key] = TLS_PARTS.map((part) => values.get(`docker-tls-${part}`));
        if (ca && cert && key) return { ca, cert, key };
        const some = Boolean(ca || cert || key);
        // Part of it is there, or TLS is on with nowhere else to take it from: an operator's
        // mistake to name, not a reason to talk plain HTTP. None at all may mean DOCKER_CERT_PATH,
        // or TLS off.
        if (some || (docker.tlsVerify && docker.certPath === undefined)) {
          const prefix = secretsPath(settings.settingsPrefix);
          const missing = TLS_PARTS.filter((part) => !values.get(`docker-tls-${part}`));
          throw new SettingsError(
            `Docker TLS material is missing: no SSM parameter ${missing.map((p) => `${prefix}/docker-tls-${p}`).join(', ')}` +
              ` (${some ? 'the others are there' : 'DOCKER_TLS_VERIFY is on'}); not connecting to ${docker.host} without TLS`,
          );
        }
      }
      if (!docker.tlsVerify || docker.certPath === undefined) return undefined;
      if (!files || now() - files.at >= ttl) files = { at: now(), material: readTlsFiles(docker.certPath) };
      return files.material;
    },
    async chatTargets() {
      const slack = (await load()).get('slack-webhook-url') ?? settings.slackWebhookUrl;
      const targets: ChatTarget[] = [];
      if (slack && /^https?:\/\//.test(slack)) targets.push({ kind: 'slack', url: slack });
      if (settings.notifyWebhookUrl) targets.push({ kind: 'webhook', url: settings.notifyWebhookUrl });
      return targets;
    },
  };
}

/** Every parameter directly under `prefix`, page by page (the SDK's paginator follows NextToken). */
async function fetchAll(ssm: ClientSource<SSMClient>, prefix: string): Promise<Map<string, string>> {
  const { paginateGetParametersByPath } = await import('@aws-sdk/client-ssm');
  const values = new Map<string, string>();
  const pages = paginateGetParametersByPath(
    { client: await ssm() },
    { Path: prefix, WithDecryption: true, Recursive: false },
  );
  for await (const page of pages) {
    for (const p of page.Parameters ?? []) {
      const name = p.Name?.slice(prefix.length + 1);
      if (name && p.Value !== undefined) values.set(name, p.Value);
    }
  }
  return values;
}
