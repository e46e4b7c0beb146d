import * as z from 'zod';
import { SettingsError } from '../domain/errors';

/**
 * Every setting, from the environment, validated once per container. Nothing else in the
 * project reads `process.env`.
 */
const flag = z
  .enum(['', 'true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .default('')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = /^\d{1,12}$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** Docker's own syntax for an endpoint: a unix socket or tcp host:port. */
const endpointPattern = (v: string) =>
  /^unix:\/\/\/.+$/.test(v) || /^tcp:\/\/[A-Za-z0-9.\-[\]:]+:\d{1,5}\/?$/.test(v);

const dockerHost = z.string().default('unix:///var/run/docker.sock').refine(endpointPattern, {
  message: 'must be unix:///path/to/docker.sock or tcp://host:port',
});

/** A comma-separated list, trimmed, without empty entries. */
const commaList = (v: string) =>
  v
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);

/** Further managers to try after DOCKER_HOST, in the same syntax, comma-separated. */
const swarmManagers = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const list = commaList(v);
    const bad = list.find((e) => !endpointPattern(e));
    if (bad !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(bad.slice(0, 80))} must be unix:///path/to/docker.sock or tcp://host:port`,
      });
      return z.NEVER;
    }
    if (list.length > 20) {
      ctx.addIssue({ code: 'custom', message: 'at most 20 endpoints' });
      return z.NEVER;
    }
    return list;
  });

const tokens = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const list = commaList(v);
    for (const t of list) {
      if (t.length < 16 || t.length > 512 || !/^[\x21-\x7e]+$/.test(t)) {
        ctx.addIssue({
          code: 'custom',
          message: 'each token must be 16 to 512 printable characters without spaces',
        });
        return z.NEVER;
      }
    }
    return Object.freeze(list);
  });

const share = z
  .string()
  .default('0.34')
  .transform((v, ctx) => {
    const n = /^(0(\.\d{1,4})?|1(\.0{1,4})?)$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
    if (Number.isNaN(n)) {
      ctx.addIssue({ code: 'custom', message: 'must be a number from 0 to 1, such as 0.34' });
      return z.NEVER;
    }
    return n;
  });

/** A Lambda function name, or its ARN (optionally with a version or alias). */
const lambdaFunction = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/,
    'must be a Lambda function name or ARN',
  );

const settingsSchema = z.object({
  DOCKER_HOST: dockerHost,
  DOCKER_TLS_VERIFY: flag,
  DOCKER_CERT_PATH: z.string().optional(),
  DOCKER_TIMEOUT_MS: int(100, 60_000, 5_000),
  SWARM_MANAGERS: swarmManagers,
  DOCKER_PORT: int(1, 65_535, 2_376),
  WEBHOOK_TOKENS: tokens,
  SETTINGS_PREFIX: z
    .string()
    .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'must be an SSM path such as /swarm-reflex/prod')
    .optional(),
  SLACK_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  NOTIFY_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  NOTIFY_TIMEOUT_MS: int(100, 30_000, 3_000),
  CLOUD: z.enum(['none', 'aws'], { error: 'must be none or aws' }).default('none'),
  CLUSTER_TAG: z
    .string()
    .regex(/^[A-Za-z0-9 _.:/+\-@]{1,128}=[A-Za-z0-9 _.:/=+\-@]{1,256}$/, 'must be key=value, an EC2 tag')
    .optional(),
  NODE_DOWN_GRACE_SECONDS: int(0, 86_400, 300),
  MAX_DOWN_SHARE: share,
  MAX_REPLACEMENTS_PER_HOUR: int(0, 100, 2),
  JOIN_TOKEN_MAX_AGE_DAYS: int(0, 3_650, 0),
  WORKER_ASG_NAME: z
    .string()
    .regex(/^[\w\-.:/ @+=]{1,255}$/, 'must be an Auto Scaling group name')
    .optional(),
  NODE_SCALE_COOLDOWN_SECONDS: int(0, 86_400, 300),
  NODE_SCALE_STEP: int(1, 100, 1),
  NODE_SCALE_IN_MAX: int(1, 100, 1),
  SCALE_IN_DRAIN_TIMEOUT_SECONDS: int(1, 86_400, 900),
  NODES_MIN: int(0, 10_000, 0),
  NODES_MAX: int(0, 10_000, 0),
  SWEEP_INTERVAL_SECONDS: int(1, 3_600, 60),
  UNDER_REPLICATED_SECONDS: int(0, 86_400, 300),
  REPLACE_NODE_FUNCTION: lambdaFunction.optional(),
  SYNC_JOIN_TOKENS_FUNCTION: lambdaFunction.optional(),
  DRY_RUN: flag,
  SCALE_COOLDOWN_SECONDS: int(5, 86_400, 120),
  UPDATE_ATTEMPTS: int(1, 20, 6),
  MAX_BODY_BYTES: int(1_024, 10 * 1024 * 1024, 1024 * 1024),
  MAX_ALERTS: int(1, 10_000, 1_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export interface Settings {
  readonly docker: {
    readonly host: string;
    readonly tlsVerify: boolean;
    readonly certPath: string | undefined;
    readonly timeoutMs: number;
    /** SWARM_MANAGERS: tried after `host`, in order, when it does not answer. */
    readonly managers: readonly string[];
    /** DOCKER_PORT: the Docker API port of the managers whose addresses are read from SSM. */
    readonly port: number;
  };
  /** Accepted webhook tokens; several at once so they can be rotated. Empty when they come from SSM. */
  readonly webhookTokens: readonly string[];
  readonly settingsPrefix: string | undefined;
  readonly slackWebhookUrl: string | undefined;
  readonly notifyWebhookUrl: string | undefined;
  readonly notifyTimeoutMs: number;
  /** `aws`: nodes are EC2 instances of this cluster; `none`: on-prem, the Swarm half only. */
  readonly cloud: 'none' | 'aws';
  /** The EC2 tag that marks this cluster's instances (required with CLOUD=aws). */
  readonly clusterTag: { readonly key: string; readonly value: string } | undefined;
  readonly nodeDownGraceSeconds: number;
  readonly maxDownShare: number;
  readonly maxReplacementsPerHour: number;
  /** Rotate the join tokens when older than this; 0 never rotates. */
  readonly joinTokenMaxAgeDays: number;
  /** The worker Auto Scaling group scale-nodes changes (CLOUD=aws). */
  readonly workerAsgName: string | undefined;
  readonly nodeScaleCooldownSeconds: number;
  /** What `scale=up` / `scale=down` move by. */
  readonly nodeScaleStep: number;
  /** The most workers one scale-in decision drains, whatever the step or delta asked for. */
  readonly nodeScaleInMax: number;
  /** A drained worker still running tasks after this long is handed back (active again): its scale-in is abandoned. */
  readonly scaleInDrainTimeoutSeconds: number;
  /** Our bounds on top of the group's own min/max; 0 means the group's. */
  readonly nodesMin: number;
  readonly nodesMax: number;
  /** How often the health sweep runs: the width of its "report once" window. */
  readonly sweepIntervalSeconds: number;
  /** How long a service may run fewer tasks than its replicas before the sweep reports it. */
  readonly underReplicatedSeconds: number;
  /** Functions the health sweep invokes asynchronously; unset: it reports without dispatching. */
  readonly replaceNodeFunction: string | undefined;
  readonly syncJoinTokensFunction: string | undefined;
  readonly dryRun: boolean;
  readonly scaleCooldownSeconds: number;
  readonly updateAttempts: number;
  readonly maxBodyBytes: number;
  readonly maxAlerts: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * Parses an environment; throws a SettingsError naming every bad variable. `tokens: 'optional'`
 * is for what takes no webhook (`npm run sweep`): it needs no token to be configured.
 */
export function parseSettings(
  env: Readonly<Record<string, string | undefined>>,
  options: { tokens?: 'required' | 'optional' } = {},
): Settings {
  // An empty variable means "not set" (serverless.yml and shells produce those).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = settingsSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`);
    throw new SettingsError(`invalid settings: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  if (s.WEBHOOK_TOKENS.length === 0 && s.SETTINGS_PREFIX === undefined && options.tokens !== 'optional') {
    throw new SettingsError(
      'invalid settings: WEBHOOK_TOKENS must be set (or SETTINGS_PREFIX, to read the tokens from SSM)',
    );
  }
  if (s.CLOUD === 'aws' && s.CLUSTER_TAG === undefined) {
    throw new SettingsError('invalid settings: CLUSTER_TAG must be set (key=value) when CLOUD is aws');
  }
  if (s.NODES_MAX > 0 && s.NODES_MIN > s.NODES_MAX) {
    throw new SettingsError('invalid settings: NODES_MIN must not be above NODES_MAX');
  }
  if (s.DOCKER_TLS_VERIFY && s.DOCKER_CERT_PATH === undefined && s.SETTINGS_PREFIX === undefined) {
    throw new SettingsError('invalid settings: DOCKER_CERT_PATH must be set when DOCKER_TLS_VERIFY is on');
  }
  return Object.freeze({
    docker: Object.freeze({
      host: s.DOCKER_HOST,
      tlsVerify: s.DOCKER_TLS_VERIFY,
      certPath: s.DOCKER_CERT_PATH,
      timeoutMs: s.DOCKER_TIMEOUT_MS,
      managers: Object.freeze([...s.SWARM_MANAGERS]),
      port: s.DOCKER_PORT,
    }),
    webhookTokens: s.WEBHOOK_TOKENS,
    settingsPrefix: s.SETTINGS_PREFIX,
    slackWebhookUrl: s.SLACK_WEBHOOK_URL,
    notifyWebhookUrl: s.NOTIFY_WEBHOOK_URL,
    notifyTimeoutMs: s.NOTIFY_TIMEOUT_MS,
    cloud: s.CLOUD,
    clusterTag: s.CLUSTER_TAG === undefined ? undefined : splitTag(s.CLUSTER_TAG),
    nodeDownGraceSeconds: s.NODE_DOWN_GRACE_SECONDS,
    maxDownShare: s.MAX_DOWN_SHARE,
    maxReplacementsPerHour: s.MAX_REPLACEMENTS_PER_HOUR,
    joinTokenMaxAgeDays: s.JOIN_TOKEN_MAX_AGE_DAYS,
    workerAsgName: s.WORKER_ASG_NAME,
    nodeScaleCooldownSeconds: s.NODE_SCALE_COOLDOWN_SECONDS,
    nodeScaleStep: s.NODE_SCALE_STEP,
    nodeScaleInMax: s.NODE_SCALE_IN_MAX,
    scaleInDrainTimeoutSeconds: s.SCALE_IN_DRAIN_TIMEOUT_SECONDS,
    nodesMin: s.NODES_MIN,
    nodesMax: s.NODES_MAX,
    sweepIntervalSeconds: s.SWEEP_INTERVAL_SECONDS,
    underReplicatedSeconds: s.UNDER_REPLICATED_SECONDS,
    replaceNodeFunction: s.REPLACE_NODE_FUNCTION,
    syncJoinTokensFunction: s.SYNC_JOIN_TOKENS_FUNCTION,
    dryRun: s.DRY_RUN,
    scaleCooldownSeconds: s.SCALE_COOLDOWN_SECONDS,
    updateAttempts: s.UPDATE_ATTEMPTS,
    maxBodyBytes: s.MAX_BODY_BYTES,
    maxAlerts: s.MAX_ALERTS,
    logLevel: s.LOG_LEVEL,
  });
}

function splitTag(tag: string): { key: string; value: string } {
  const at = tag.indexOf('=');
  return Object.freeze({ key: tag.slice(0, at), value: tag.slice(at + 1) });
}

let loaded: Settings | undefined;

/** The settings of this container, parsed from `process.env` on first use and then frozen. */
export function loadSettings(): Settings {
  loaded ??= parseSettings(process.env);
  return loaded;
}
