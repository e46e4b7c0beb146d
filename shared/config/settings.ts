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
    return Object.freeze(list);
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

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** An EC2 tag, `key=value`, split at the first `=`. */
const clusterTag = z
  .string()
  .regex(/^[A-Za-z0-9 _.:/+\-@]{1,128}=[A-Za-z0-9 _.:/=+\-@]{1,256}$/, 'must be key=value, an EC2 tag')
  .transform((tag) => {
    const at = tag.indexOf('=');
    return Object.freeze({ key: tag.slice(0, at), value: tag.slice(at + 1) });
  });

/** Names, comma-separated: at most `max`, each matching `pattern` (`one` names one in the error). */
const nameList = (p: { pattern: RegExp; one: string; many: string; max: number; fallback?: string }) =>
  z
    .string()
    .default(p.fallback ?? '')
    .transform((v, ctx) => {
      const list = commaList(v);
      const bad = list.find((g) => !p.pattern.test(g));
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad.slice(0, 80))} must be ${p.one}` });
        return z.NEVER;
      }
      if (list.length > p.max) {
        ctx.addIssue({ code: 'custom', message: `at most ${p.max} ${p.many}` });
        return z.NEVER;
      }
      return Object.freeze(list);
    });

/** Auto Scaling group names, as Auto Scaling allows them. */
const groupNames = nameList({
  pattern: /^[\w\-.:/ @+=]{1,255}$/,
  one: 'an Auto Scaling group name',
  many: 'groups',
  max: 50,
});

/** One setting: the environment variable it is read from, and how it is validated. */
interface Variable<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly schema: S;
}

interface Group {
  readonly [key: string]: Variable | Group;
}

const variable = <S extends z.ZodType>(name: string, schema: S): Variable<S> => ({ name, schema });

/**
 * Every setting, written once: where it lands in `Settings` (the key), the variable it is read
 * from, its validation and its default. The order is the order in which problems are listed.
 */
const variables = {
  docker: {
    host: variable('DOCKER_HOST', dockerHost),
    tlsVerify: variable('DOCKER_TLS_VERIFY', flag),
    certPath: variable('DOCKER_CERT_PATH', z.string().optional()),
    timeoutMs: variable('DOCKER_TIMEOUT_MS', int(100, 60_000, 5_000)),
    /** Tried after `host`, in order, when it does not answer. */
    managers: variable('SWARM_MANAGERS', swarmManagers),
    /** The Docker API port of the managers whose addresses are read from SSM. */
    port: variable('DOCKER_PORT', int(1, 65_535, 2_376)),
  },
  /** Accepted webhook tokens; several at once so they can be rotated. Empty when they come from SSM. */
  webhookTokens: variable('WEBHOOK_TOKENS', tokens),
  settingsPrefix: variable(
    'SETTINGS_PREFIX',
    z
      .string()
      .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'must be an SSM path such as /swarm-reflex/prod')
      .optional(),
  ),
  slackWebhookUrl: variable('SLACK_WEBHOOK_URL', httpUrl.optional()),
  notifyWebhookUrl: variable('NOTIFY_WEBHOOK_URL', httpUrl.optional()),
  notifyTimeoutMs: variable('NOTIFY_TIMEOUT_MS', int(100, 30_000, 3_000)),
  /** `aws`: nodes are EC2 instances of this cluster; `none`: on-prem, the Swarm half only. */
  cloud: variable('CLOUD', z.enum(['none', 'aws'], { error: 'must be none or aws' }).default('none')),
  /** The EC2 tag that marks this cluster's instances (required with CLOUD=aws). */
  clusterTag: variable('CLUSTER_TAG', clusterTag.optional()),
  nodeDownGraceSeconds: variable('NODE_DOWN_GRACE_SECONDS', int(0, 86_400, 300)),
  maxDownShare: variable('MAX_DOWN_SHARE', share),
  maxReplacementsPerHour: variable('MAX_REPLACEMENTS_PER_HOUR', int(0, 100, 2)),
  /** Rotate the join tokens when older than this; 0 never rotates. */
  joinTokenMaxAgeDays: variable('JOIN_TOKEN_MAX_AGE_DAYS', int(0, 3_650, 0)),
  /** The worker Auto Scaling group scale-nodes changes (CLOUD=aws). */
  workerAsgName: variable(
    'WORKER_ASG_NAME',
    z
      .string()
      .regex(/^[\w\-.:/ @+=]{1,255}$/, 'must be an Auto Scaling group name')
      .optional(),
  ),
  nodeScaleCooldownSeconds: variable('NODE_SCALE_COOLDOWN_SECONDS', int(0, 86_400, 300)),
  /** What `scale=up` / `scale=down` move by. */
  nodeScaleStep: variable('NODE_SCALE_STEP', int(1, 100, 1)),
  /** The most workers one scale-in decision drains, whatever the step or delta asked for. */
  nodeScaleInMax: variable('NODE_SCALE_IN_MAX', int(1, 100, 1)),
  /** A drained worker still running tasks after this long is handed back (active again): its scale-in is abandoned. */
  scaleInDrainTimeoutSeconds: variable('SCALE_IN_DRAIN_TIMEOUT_SECONDS', int(1, 86_400, 900)),
  /** Our bounds on top of the group's own min/max; 0 means the group's. */
  nodesMin: variable('NODES_MIN', int(0, 10_000, 0)),
  nodesMax: variable('NODES_MAX', int(0, 10_000, 0)),
  /** How often the health sweep runs: the width of its "report once" window. */
  sweepIntervalSeconds: variable('SWEEP_INTERVAL_SECONDS', int(1, 3_600, 60)),
  /** How long a service may run fewer tasks than its replicas before the sweep reports it. */
  underReplicatedSeconds: variable('UNDER_REPLICATED_SECONDS', int(0, 86_400, 300)),
  /** Functions the health sweep invokes asynchronously; unset: it reports without dispatching. */
  replaceNodeFunction: variable('REPLACE_NODE_FUNCTION', lambdaFunction.optional()),
  syncJoinTokensFunction: variable('SYNC_JOIN_TOKENS_FUNCTION', lambdaFunction.optional()),
  /** The Auto Scaling groups whose lifecycle hooks node-lifecycle answers; empty: none. */
  lifecycleGroups: variable('LIFECYCLE_GROUPS', groupNames),
  /**
   * The lifecycle hooks node-lifecycle answers (the deploy kit's); a hook another tool put on
   * the same group is never completed nor heartbeated: its instance is still drained.
   */
  lifecycleHooks: variable(
    'LIFECYCLE_HOOKS',
    nameList({
      pattern: /^[A-Za-z0-9\-_/]{1,255}$/,
      one: 'a lifecycle hook name',
      many: 'hooks',
      max: 20,
      fallback: 'swarm-reflex-drain,swarm-reflex-join',
    }),
  ),
  /** A leaving node still running tasks this long after its drain began leaves anyway (its hook is completed). */
  lifecycleDrainTimeoutSeconds: variable('LIFECYCLE_DRAIN_TIMEOUT_SECONDS', int(1, 172_800, 600)),
  /** A launched instance whose node is not Ready this long after its launch is abandoned (the group replaces it). */
  launchJoinTimeoutSeconds: variable('LAUNCH_JOIN_TIMEOUT_SECONDS', int(60, 172_800, 900)),
  /** An EC2 rebalance recommendation: a message only (`notify`), or a message and a drain (`drain`). */
  onRebalance: variable(
    'ON_REBALANCE',
    z.enum(['notify', 'drain'], { error: 'must be notify or drain' }).default('notify'),
  ),
  /** A node whose AWS Health maintenance window starts within this many seconds is drained. */
  scheduledDrainLeadSeconds: variable('SCHEDULED_DRAIN_LEAD_SECONDS', int(0, 1_209_600, 3_600)),
  dryRun: variable('DRY_RUN', flag),
  scaleCooldownSeconds: variable('SCALE_COOLDOWN_SECONDS', int(5, 86_400, 120)),
  updateAttempts: variable('UPDATE_ATTEMPTS', int(1, 20, 6)),
  maxBodyBytes: variable('MAX_BODY_BYTES', int(1_024, 10 * 1024 * 1024, 1024 * 1024)),
  maxAlerts: variable('MAX_ALERTS', int(1, 10_000, 1_000)),
  logLevel: variable('LOG_LEVEL', z.enum(['debug', 'info', 'warn', 'error']).default('info')),
} satisfies Group;

/** The parsed shape of a group of variables: each key holds its schema's output (doc comments carry over). */
type Parsed<G> = { readonly [K in keyof G]: G[K] extends Variable<infer S> ? z.output<S> : Parsed<G[K]> };

const isVariable = (v: Variable | Group): v is Variable => v.schema instanceof z.ZodType;

function shapeOf(group: Group): Record<string, z.ZodType> {
  return Object.assign(
    {},
    ...Object.values(group).map((v) => (isVariable(v) ? { [v.name]: v.schema } : shapeOf(v))),
  );
}

/** The parsed variables arranged as `variables` says, every level frozen. */
function arrange(group: Group, parsed: Readonly<Record<string, unknown>>): unknown {
  return Object.freeze(
    Object.fromEntries(
      Object.entries(group).map(([key, v]) => [key, isVariable(v) ? parsed[v.name] : arrange(v, parsed)]),
    ),
  );
}

// Keyed by variable name, so a problem is reported with the name a person sets.
const settingsSchema = z
  .object(shapeOf(variables))
  .transform((parsed) => arrange(variables, parsed) as Parsed<typeof variables>);

export type Settings = z.output<typeof settingsSchema>;

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
  if (s.webhookTokens.length === 0 && s.settingsPrefix === undefined && options.tokens !== 'optional') {
    throw new SettingsError(
      'invalid settings: WEBHOOK_TOKENS must be set (or SETTINGS_PREFIX, to read the tokens from SSM)',
    );
  }
  if (s.cloud === 'aws' && s.clusterTag === undefined) {
    throw new SettingsError('invalid settings: CLUSTER_TAG must be set (key=value) when CLOUD is aws');
  }
  if (s.nodesMax > 0 && s.nodesMin > s.nodesMax) {
    throw new SettingsError('invalid settings: NODES_MIN must not be above NODES_MAX');
  }
  if (s.docker.tlsVerify && s.docker.certPath === undefined && s.settingsPrefix === undefined) {
    throw new SettingsError('invalid settings: DOCKER_CERT_PATH must be set when DOCKER_TLS_VERIFY is on');
  }
  return s;
}

let loaded: Settings | undefined;

/** The settings of this container, parsed from `process.env` on first use and then frozen. */
export function loadSettings(): Settings {
  loaded ??= parseSettings(process.env);
  return loaded;
}
