/**
 * Fuzzing every HTTP route through its real handler (makeHandler with the real adapters) on a
 * real swarm, with AWS mocked at the SDK boundary and chat going to real local receivers.
 * Shared by the integration test (a bounded number of runs) and `scripts/fuzz.ts` (many).
 *
 * For every generated request — arbitrary bytes, arbitrary JSON, webhook-shaped payloads with
 * hostile labels, annotations, keys and query strings, good and bad credentials — it checks:
 * - never a 5xx (the swarm is up and the fakes do not fail); only 200, 400, 401 or 413;
 * - 400, 401 and 413 carry a `message`; without valid credentials it is always 401, and a
 *   body over the limit from a known caller is always 413;
 * - a request that is not answered 200 costs nothing downstream: no Docker request, no AWS
 *   call, no chat message (authentication and validation come first);
 * - a 200 changes exactly what its outcomes say, nothing else: the services it says it
 *   scaled (one update each, to the replicas it says), the worker capacity it says it set
 *   (one SetDesiredCapacity, and the node-scale claim on the swarm written before it), the chat
 *   messages for what it did; no other node or swarm change, no other AWS write, ever (every
 *   node is up, so nothing may be replaced);
 * - every Slack message sent is within Block Kit's limits.
 *
 * Nothing here imports vitest (the script runs outside it); failures are thrown by fast-check.
 */
import { strict as assert } from 'node:assert';
import type Docker from 'dockerode';
import fc from 'fast-check';
import { makeHandler as makeNotify } from '../../functions/notify/handler';
import { makeHandler as makeReplaceNode } from '../../functions/replace-node/handler';
import { makeHandler as makeScaleNodes } from '../../functions/scale-nodes/handler';
import { makeHandler as makeScaleService } from '../../functions/scale-service/handler';
import { routes } from '../../scripts/local/routes';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { postJson } from '../../shared/adapters/chat';
import { createDockerClient } from '../../shared/adapters/docker';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLogger } from '../../shared/adapters/logger';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { NODE_SCALE_CLAIM_LABEL } from '../../shared/domain/labels';
import type { HttpResponse } from '../../shared/edge/http';
import { type ChatReceiver, startChatReceiver } from '../harness/chat-receiver';
import { type DockerProxy, startDockerProxy } from '../harness/docker-proxy';
import { startSwarm, type TestSwarm } from '../harness/swarm';
import { fakeAutoScaling } from '../support/fake-autoscaling';
import { fakeEc2 } from '../support/fake-ec2';
import { realNotifier } from '../support/real-deps';
import { slackLimitViolations } from '../support/slack-limits';

export const FUZZ_TOKEN = 'fuzz-token-0123456789abcdef';
const MAX_BODY_BYTES = 16 * 1024;
const MAX_ALERTS = 20;
const CLUSTER = { key: 'swarm-reflex:cluster', value: 'fuzz' };
const WORKER_INSTANCE = 'i-0f022000000000002';
const MANAGER_INSTANCE = 'i-0f022000000000001';

type Handler = (event: unknown) => Promise<HttpResponse>;

export interface RouteReport {
  route: string;
  cases: number;
  /** By status code. */
  statuses: Record<string, number>;
  /** By kind of request body generated. */
  bodies: Record<string, number>;
  /** By outcome `kind[: reason]` of the 200s. */
  outcomes: Record<string, number>;
  /** Cases that changed something (as their outcomes said). */
  changes: number;
  seed: number;
  ms: number;
}

export interface FuzzEnvironment {
  /** The functions of the HTTP routes, in the order of scripts/local/routes.ts. */
  routes: readonly string[];
  fuzzRoute(fn: string, options: { runs: number; seed?: number }): Promise<RouteReport>;
  close(): Promise<void>;
}

interface Context {
  swarm: TestSwarm;
  proxy: DockerProxy;
  direct: Docker;
  slack: ChatReceiver;
  webhook: ChatReceiver;
  ec2: ReturnType<typeof fakeEc2>;
  asg: ReturnType<typeof fakeAutoScaling>;
  handlers: Record<string, Handler>;
  /** Values an alert can name that mean something here. */
  names: string[];
  /** How far the handlers' clock is ahead of the real one. */
  shift: { ms: number };
}

export async function startFuzzEnvironment(
  options: { log?: (line: string) => void } = {},
): Promise<FuzzEnvironment> {
  const [swarm, slack, webhook] = await Promise.all([
    startSwarm({ managers: 1, label: 'fuzz', log: options.log }),
    startChatReceiver(),
    startChatReceiver(),
  ]);
  let proxy: DockerProxy | undefined;
  let ec2: ReturnType<typeof fakeEc2> | undefined;
  let asg: ReturnType<typeof fakeAutoScaling> | undefined;
  const close = async () => {
    ec2?.mock.restore();
    asg?.mock.restore();
    await proxy?.close();
    await Promise.all([slack.close(), webhook.close()]);
    await swarm.teardown();
  };
  try {
    const worker = await swarm.addNode('worker', { engineLabels: { 'aws.instance-id': WORKER_INSTANCE } });
    proxy = await startDockerProxy(swarm.manager.socketPath);
    const direct = swarm.docker();
    // Tasks that never start (no node has the label): the specs matter here, not containers.
    const parked = { Placement: { Constraints: ['node.labels.fuzz-never==1'] } };
    const service = (name: string, replicas: number, labels: Record<string, string>) =>
      direct.createService({
        Name: name,
        Labels: labels,
        TaskTemplate: { ContainerSpec: { Image: 'local/busybox:1', Command: ['sleep', '3600'] }, ...parked },
        Mode: { Replicated: { Replicas: replicas } },
      });
    await service('fz-web', 1, { 'com.df.scaleMax': '3', 'com.df.scaleCooldown': '5' });
    await service('fz-api', 2, { 'com.df.scaleMin': '1' });
    await service('fz-bad', 1, { 'com.df.scaleMax': 'lots' });

    ec2 = fakeEc2([
      {
        id: MANAGER_INSTANCE,
        state: 'running',
        privateIp: swarm.manager.address,
        tags: { [CLUSTER.key]: CLUSTER.value },
      },
      {
        id: WORKER_INSTANCE,
        state: 'running',
        privateIp: worker.address,
        tags: { [CLUSTER.key]: CLUSTER.value },
      },
    ]);
    // The worker is not in the group: a scale-in finds no candidate instead of draining the
    // only worker (which the properties would rightly see as a node change).
    asg = fakeAutoScaling(
      { name: 'workers', min: 1, max: 3, desired: 1, instances: ['i-0f0220000000000ff'] },
      () => new Date(),
    );

    const settings = parseSettings({
      WEBHOOK_TOKENS: FUZZ_TOKEN,
      DOCKER_HOST: proxy.dockerHost,
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      MAX_ALERTS: String(MAX_ALERTS),
      CLOUD: 'aws',
      CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`,
      WORKER_ASG_NAME: 'workers',
      NODE_DOWN_GRACE_SECONDS: '0',
    });
    const docker = createDockerClient(settings.docker);
    const viaProxy = async () => docker;
    const logger = createLogger({ level: 'error', sink: () => {} });
    const tokens = async () => settings.webhookTokens;
    // Moved forward 10 s per case (see fuzzRoute).
    const shift = { ms: 0 };
    const clock = { now: () => new Date(Date.now() + shift.ms) };
    const urls = { slack: slack.url, webhook: webhook.url };
    const awsEc2 = ec2;
    const awsAsg = asg;
    const factories: Record<string, () => Handler> = {
      'scale-service': () =>
        makeScaleService({ settings, logger, tokens, swarm: createSwarmServices(viaProxy), clock }),
      'scale-nodes': () =>
        makeScaleNodes({
          settings,
          logger,
          tokens,
          swarm: createSwarmNodes(viaProxy),
          tasks: createSwarmTasks(viaProxy),
          group: createWorkerGroup(awsAsg.client, 'workers'),
          notifier: realNotifier('scale-nodes', urls),
          clock,
        }),
      'replace-node': () =>
        makeReplaceNode({
          settings,
          logger,
          tokens,
          swarm: createSwarmNodes(viaProxy),
          cloud: createCloudInstances(awsEc2.client, CLUSTER),
          notifier: realNotifier('replace-node', urls),
          clock,
        }),
      notify: () =>
        makeNotify({
          settings,
          logger,
          tokens,
          targets: async () => [
            { kind: 'slack', url: slack.url },
            { kind: 'webhook', url: webhook.url },
          ],
          post: postJson,
        }),
    };
    const handlers: Record<string, Handler> = {};
    for (const route of routes) {
      const make = factories[route.function];
      // A route added without a fuzz target fails here, not silently.
      if (!make) throw new Error(`no fuzz target for the route ${route.path} (${route.function})`);
      handlers[route.function] = make();
    }
    const ctx: Context = {
      shift,
      swarm,
      proxy,
      direct,
      slack,
      webhook,
      ec2,
      asg,
      handlers,
      names: [
        'fz-web',
        'fz-api',
        'fz-bad',
        'fz-none',
        swarm.manager.name,
        worker.name,
        swarm.manager.nodeId,
        worker.nodeId,
        `${worker.address}:9100`,
        swarm.manager.address,
        WORKER_INSTANCE,
        MANAGER_INSTANCE,
      ],
    };
    return {
      routes: routes.map((r) => r.function),
      fuzzRoute: (fn, opts) => fuzzRoute(ctx, fn, opts),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------
// What is generated

/** Strings an attacker, a broken exporter or a typo might put anywhere. */
function hostileStrings(names: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '../etc/passwd',
      '../../nodes/x',
      'fz-web/../fz-api',
      'fz-web%2F..%2Ffz-api',
      '%2F',
      '%00',
      'fz-web\u0000',
      'fz-web\n',
      'fz-web\r\nX-Injected: 1',
      ' fz-web',
      'FZ-WEB',
      'fz-web.1',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup, meant as plain text
      '${jndi:ldap://127.0.0.1/x}',
      '<!channel>',
      '<http://evil.example|click>',
      '*bold* _it_ `code`',
      '"; DROP TABLE x; --',
      '\ud800',
      '\udfff\ud800',
      '\u202eevil',
      '👍🏽🇫🇷',
      'e\u0301',
      'ﷺ',
      'up down',
      '+-1',
      '1e3',
      '0x10',
      'NaN',
      '-0',
      '99999',
      '',
      ' ',
      ...names,
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    // Long near-valid names: what an exponential regular expression chokes on (a long run of
    // letters and digits, then one character that does not belong).
    fc.stringMatching(/^[a-z0-9]{24,62}[!./% \n]$/),
    fc.stringMatching(/^[a-z0-9][a-z0-9_-]{20,70}[!./%]?$/),
    fc.string({
      unit: fc.constantFrom('.', '/', '%', '2', 'F', 'a', '\\', '\u0000', '\n', '-'),
      maxLength: 30,
    }),
    fc.integer({ min: 200, max: 20_000 }).map((n) => 'x'.repeat(n)),
  );
}

interface FuzzRequest {
  authHeaderName: string;
  auth: { header: string | undefined; valid: boolean };
  query: Array<[string, string]>;
  body: { kind: string; text?: string; bytes?: Uint8Array; base64: boolean };
}

const json = (value: string) => JSON.stringify(value);
/** An object's JSON text from entries: keys such as __proto__ stay own keys, duplicates stay duplicated. */
const objectText = (entries: ReadonlyArray<readonly [string, string]>) =>
  `{${entries.map(([k, v]) => `${json(k)}:${v}`).join(',')}}`;

function requests(names: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const hostile = hostileStrings(names);
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const present = (fields: Record<string, string | undefined>, extra?: readonly [string, string]) =>
    objectText([
      ...Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined),
      ...(extra ? [extra] : []),
    ]);
  const meaningful = fc.constantFrom(
    'up',
    'down',
    '+1',
    '-1',
    '2',
    '-3',
    'node',
    'critical',
    'warning',
    ...names,
  );
  const value = fc.oneof({ weight: 3, arbitrary: meaningful }, { weight: 2, arbitrary: hostile });
  const key = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'service',
        'scale',
        'node',
        'instance',
        'type',
        'alertname',
        'severity',
        'summary',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'),
    },
    { weight: 1, arbitrary: hostile.filter((s) => s.length <= 300) },
  );

  // Well-formed webhooks: every field of the right type and within the schema's bounds, with
  // hostile text in labels, annotations and keys. These reach the domains.
  const fitting = (max: number) => value.filter((v) => v.length <= max);
  const labels = (maxValue: number) =>
    fc
      .array(
        fc.tuple(
          key.filter((k) => k.length <= 256),
          fitting(maxValue).map(json),
        ),
        { maxLength: 6 },
      )
      .map(objectText);
  // The labels the functions read, aimed at what exists here (or not), then anything else.
  const aimed = fc
    .record({
      // fz-web is the one service that may scale: aim at it most.
      service: maybe(
        fc.oneof(
          { weight: 4, arbitrary: fc.constant('fz-web') },
          { weight: 3, arbitrary: fc.constantFrom('fz-api', 'fz-bad', 'fz-none') },
          { weight: 2, arbitrary: fitting(300) },
        ),
      ),
      scale: maybe(
        fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom('up', 'down', '+1', '-2', '3') },
          { weight: 2, arbitrary: fitting(300) },
        ),
      ),
      node: maybe(fitting(300)),
      instance: maybe(fitting(300)),
      type: maybe(fc.oneof(fc.constantFrom('node', 'service'), fitting(300))),
    })
    .chain((named) =>
      fc
        .array(
          fc.tuple(
            key.filter((k) => k.length <= 256),
            fitting(8_192).map(json),
          ),
          { maxLength: 4 },
        )
        .map((rest) =>
          objectText([
            ...Object.entries(named)
              .filter((e): e is [string, string] => e[1] !== undefined)
              .map(([k, v]) => [k, json(v)] as const),
            ...rest,
          ]),
        ),
    );
  const goodAlert = fc
    .record({
      status: fc.oneof(
        { weight: 4, arbitrary: fc.constant('"firing"') },
        { weight: 1, arbitrary: fc.constant('"resolved"') },
      ),
      labels: fc.oneof({ weight: 3, arbitrary: aimed }, { weight: 1, arbitrary: labels(8_192) }),
      annotations: maybe(labels(65_536)),
      startsAt: maybe(fc.constant('"2026-11-24T10:00:00Z"')),
      generatorURL: maybe(fitting(4_096).map(json)),
      fingerprint: maybe(fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), fitting(64)).map(json)),
    })
    .map((fields) => present(fields));
  const goodWebhook = fc
    .record({
      version: fc.constant('"4"'),
      status: fc.constantFrom('"firing"', '"resolved"'),
      groupKey: maybe(fitting(8_192).map(json)),
      receiver: maybe(fitting(1_024).map(json)),
      groupLabels: maybe(labels(8_192)),
      commonLabels: maybe(labels(8_192)),
      commonAnnotations: maybe(labels(65_536)),
      externalURL: maybe(fitting(4_096).map(json)),
      truncatedAlerts: maybe(fc.nat({ max: 5_000 }).map(String)),
      alerts: fc.array(goodAlert, { minLength: 1, maxLength: 5 }).map((a) => `[${a.join(',')}]`),
    })
    .map((fields) => present(fields));

  // Broken ones: any field may be of the wrong type, out of bounds, missing, or one too many.
  const anyValueText = fc.oneof(
    { weight: 6, arbitrary: value.map(json) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('1', 'null', 'true', '{}', '[]', '{"__proto__":{"polluted":"yes"}}'),
    },
  );
  const anyLabels = fc.array(fc.tuple(key, anyValueText), { maxLength: 6 }).map(objectText);
  const anyStatus = fc.oneof(fc.constantFrom('"firing"', '"resolved"'), anyValueText);
  const anyAlert = fc
    .record({ status: maybe(anyStatus), labels: maybe(anyLabels), annotations: maybe(anyLabels) })
    .chain((fields) => maybe(fc.tuple(key, anyValueText)).map((extra) => present(fields, extra)));
  const brokenWebhook = fc
    .record({
      version: fc.oneof(fc.constant('"4"'), fc.constantFrom('4', '"3"', 'null', '"４"'), anyValueText),
      status: maybe(anyStatus),
      groupLabels: maybe(anyLabels),
      truncatedAlerts: maybe(fc.constantFrom('-1', '1.5', '"2"', '1e309')),
      alerts: fc.oneof(
        fc.array(anyAlert, { maxLength: 5 }).map((a) => `[${a.join(',')}]`),
        fc.constantFrom('null', '{}', '"all"', '[]'),
        fc.constant(
          `[${Array(MAX_ALERTS + 1)
            .fill('{"status":"firing","labels":{}}')
            .join(',')}]`,
        ),
      ),
    })
    .chain((fields) => maybe(fc.tuple(key, anyValueText)).map((extra) => present(fields, extra)));

  // What the sweep sends replace-node; over HTTP it is accepted from a known caller too.
  const direct = fc
    .record({ node: maybe(value.map(json)), instance: maybe(value.map(json)) })
    .map((fields) => present(fields));
  // Around the size limit: one byte under, at, and over it.
  const sized = fc.constantFrom(-1, 0, 1, 5_000).map((over) => {
    const head = '{"version":"4","status":"firing","alerts":[],"pad":"';
    const tail = '"}';
    return `${head}${'x'.repeat(MAX_BODY_BYTES + over - head.length - tail.length)}${tail}`;
  });

  const body: fc.Arbitrary<{ kind: string; text?: string; bytes?: Uint8Array }> = fc.oneof(
    { weight: 8, arbitrary: goodWebhook.map((text) => ({ kind: 'webhook', text })) },
    { weight: 2, arbitrary: brokenWebhook.map((text) => ({ kind: 'broken webhook', text })) },
    { weight: 1, arbitrary: direct.map((text) => ({ kind: 'direct target', text })) },
    {
      weight: 1,
      arbitrary: fc
        .jsonValue({ maxDepth: 3 })
        .map((v) => ({ kind: 'any JSON', text: JSON.stringify(v) ?? 'null' })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((bytes) => ({ kind: 'bytes', bytes })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '',
          ' ',
          'null',
          '[]',
          '{}',
          '"4"',
          '{"version":"4"}',
          '{"alerts":[]}',
          '{"version":"4","status":"firing","alerts":[]}',
        )
        .map((text) => ({ kind: 'tiny', text })),
    },
    { weight: 1, arbitrary: sized.map((text) => ({ kind: 'near the size limit', text })) },
  );

  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const auth = fc.oneof(
    { weight: 8, arbitrary: fc.constant({ header: `Bearer ${FUZZ_TOKEN}`, valid: true }) },
    { weight: 1, arbitrary: fc.constant({ header: `  bearer \t${FUZZ_TOKEN}  `, valid: true }) },
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 20 })
        .map((user) => ({ header: basic(user.replace(/:/g, ''), FUZZ_TOKEN), valid: true })),
    },
    {
      weight: 3,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            undefined,
            '',
            'Bearer',
            `Bearer ${FUZZ_TOKEN} extra`,
            `Bearer ${FUZZ_TOKEN},Bearer ${FUZZ_TOKEN}`,
            `Token ${FUZZ_TOKEN}`,
            `Bearer ${FUZZ_TOKEN}x`,
            `Bearer ${FUZZ_TOKEN.slice(0, -1)}`,
            `Bearer ${FUZZ_TOKEN.toUpperCase()}`,
            `Basic ${Buffer.from(FUZZ_TOKEN).toString('base64')}`,
            `Basic ${FUZZ_TOKEN}`,
            `Bearer ${'A'.repeat(5_000)}`,
            'Bearer \u0000',
          ),
          hostile,
        )
        .map((header) => ({ header, valid: false })),
    },
  );
  const queryKey = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('service', 'scale', 'dryRun') },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString') },
    { weight: 1, arbitrary: hostile.filter((s) => s.length <= 100) },
  );
  const queryValue = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.constantFrom('true', 'false', '1', '0', 'yes', 'up', 'down', '+1', '-1', ...names),
    },
    { weight: 1, arbitrary: hostile.filter((s) => s.length <= 2_000) },
  );
  const query = fc.oneof(
    { weight: 4, arbitrary: fc.constant([] as Array<[string, string]>) },
    { weight: 1, arbitrary: fc.array(fc.tuple(queryKey, queryValue), { minLength: 1, maxLength: 4 }) },
  );
  return fc.record({
    authHeaderName: fc.constantFrom('authorization', 'Authorization', 'AUTHORIZATION'),
    auth,
    query,
    body: fc
      .tuple(body, fc.boolean())
      .map(([b, base64]) => ({ ...b, base64: base64 || b.bytes !== undefined })),
  });
}

/** Percent-encoding that takes any string (encodeURIComponent throws on a lone surrogate). */
const percent = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

function toEvent(path: string, r: FuzzRequest) {
  const bytes = r.body.bytes ?? Buffer.from(r.body.text ?? '', 'utf8');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (r.auth.header !== undefined) headers[r.authHeaderName] = r.auth.header;
  // Object.fromEntries makes own properties even of __proto__, as a JSON-parsed event has.
  const query = Object.fromEntries(r.query);
  return {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: r.query.map(([k, v]) => `${percent(k)}=${percent(v)}`).join('&'),
    headers,
    queryStringParameters: r.query.length > 0 ? query : undefined,
    requestContext: { http: { method: 'POST', path }, stage: '$default' },
    body: r.body.base64 ? Buffer.from(bytes).toString('base64') : (r.body.text ?? ''),
    isBase64Encoded: r.body.base64,
  };
}

// ---------------------------------------------------------------------------------------
// What is checked

interface Snapshot {
  services: Map<string, { version: number; replicas: number | undefined }>;
  nodes: string;
  /** The swarm's spec without the node-scale claim, which scale-nodes writes when it acts. */
  swarm: string;
  nodeScaleClaim: string | undefined;
}

async function snapshot(docker: Docker): Promise<Snapshot> {
  const [services, nodes, swarm] = await Promise.all([
    docker.listServices() as Promise<
      Array<{
        Version: { Index: number };
        Spec: { Name: string; Mode: { Replicated?: { Replicas: number } } };
      }>
    >,
    docker.listNodes() as Promise<Array<{ ID: string; Spec: unknown }>>,
    docker.swarmInspect() as Promise<{ Spec: { Labels?: Record<string, string> } }>,
  ]);
  const { [NODE_SCALE_CLAIM_LABEL]: nodeScaleClaim, ...labels } = swarm.Spec.Labels ?? {};
  return {
    services: new Map(
      services.map((s) => [
        s.Spec.Name,
        { version: s.Version.Index, replicas: s.Spec.Mode.Replicated?.Replicas },
      ]),
    ),
    // Specs, not versions: swarmkit rewrites a node's status on its own.
    nodes: JSON.stringify(nodes.map((n) => [n.ID, n.Spec]).sort()),
    swarm: JSON.stringify({ ...swarm.Spec, Labels: labels }),
    nodeScaleClaim,
  };
}

const AWS_WRITES = new Set([
  'CreateTagsCommand',
  'TerminateInstancesCommand',
  'SetDesiredCapacityCommand',
  'TerminateInstanceInAutoScalingGroupCommand',
]);

/** The AWS calls made so far, one list per client (each only grows). */
function awsCalls(ctx: Context): { ec2: string[]; asg: string[] } {
  const names = (calls: ReadonlyArray<{ args: readonly unknown[] }>) =>
    calls.map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);
  return { ec2: names(ctx.ec2.mock.calls()), asg: names(ctx.asg.mock.calls()) };
}

function awsCallsSince(ctx: Context, mark: { ec2: string[]; asg: string[] }): string[] {
  const now = awsCalls(ctx);
  return [...now.ec2.slice(mark.ec2.length), ...now.asg.slice(mark.asg.length)];
}

type Outcome = { kind?: string; reason?: string; service?: string; to?: number };

async function checkOne(ctx: Context, fn: string, path: string, request: FuzzRequest, report: RouteReport) {
  const handler = ctx.handlers[fn] as Handler;
  const before = await snapshot(ctx.direct);
  const dockerMark = ctx.proxy.requests().length;
  const awsMark = awsCalls(ctx);
  const slackMark = ctx.slack.messages.length;
  const webhookMark = ctx.webhook.messages.length;

  const response = await handler(toEvent(path, request));

  const status = response.statusCode;
  report.statuses[status] = (report.statuses[status] ?? 0) + 1;
  report.bodies[request.body.kind] = (report.bodies[request.body.kind] ?? 0) + 1;
  const body = JSON.parse(response.body) as { message?: unknown; outcomes?: Outcome[] };
  const bytes = request.body.bytes?.length ?? Buffer.byteLength(request.body.text ?? '', 'utf8');

  assert.ok(status < 500, `${fn} answered ${status}: ${response.body.slice(0, 500)}`);
  assert.ok([200, 400, 401, 413].includes(status), `${fn} answered ${status}`);
  if (status !== 200) {
    assert.equal(typeof body.message, 'string', `a ${status} without a message`);
    assert.ok((body.message as string).length > 0, `a ${status} with an empty message`);
  }
  if (!request.auth.valid)
    assert.equal(status, 401, 'a request without valid credentials must be refused with 401');
  else assert.notEqual(status, 401, `valid credentials refused: ${response.body}`);
  if (request.auth.valid && bytes > MAX_BODY_BYTES)
    assert.equal(status, 413, 'an oversized body must be 413');

  const after = await snapshot(ctx.direct);
  const docker = ctx.proxy.requests().slice(dockerMark);
  const aws = awsCallsSince(ctx, awsMark);
  const slack = ctx.slack.messages.slice(slackMark);
  const webhook = ctx.webhook.messages.slice(webhookMark);
  for (const message of slack) {
    assert.deepEqual(slackLimitViolations(message), [], 'a Slack message outside Block Kit limits');
  }
  assert.equal(after.nodes, before.nodes, 'a node changed');
  assert.equal(after.swarm, before.swarm, 'the swarm changed');

  if (status !== 200) {
    assert.deepEqual(
      docker.map((r) => r.key),
      [],
      `a ${status} still asked Docker`,
    );
    assert.deepEqual(aws, [], `a ${status} still called AWS`);
    assert.equal(slack.length + webhook.length, 0, `a ${status} still sent chat messages`);
    assert.deepEqual(after.services, before.services, `a ${status} changed a service`);
    return;
  }

  const outcomes = body.outcomes;
  assert.ok(Array.isArray(outcomes), 'a 200 without outcomes');
  for (const o of outcomes) {
    const name = `${o.kind}${o.reason ? `: ${o.reason}` : ''}`;
    report.outcomes[name] = (report.outcomes[name] ?? 0) + 1;
  }
  const writes = docker.filter((r) => r.method !== 'GET');
  const awsWrites = aws.filter((c) => AWS_WRITES.has(c));

  // scale-service: exactly the services its outcomes say it scaled, one update each.
  const scaled = new Map<string, number>();
  if (fn === 'scale-service') {
    for (const o of outcomes) if (o.kind === 'scaled' && o.service) scaled.set(o.service, o.to as number);
  }
  // scale-nodes claims the node-scale cooldown on the swarm exactly when it sets a capacity.
  const capacity = fn === 'scale-nodes' ? outcomes.find((o) => o.kind === 'scaled') : undefined;
  assert.deepEqual(
    writes.map((r) => r.key),
    [
      ...[...scaled.keys()].map(() => 'POST /services/:id/update'),
      ...(capacity ? ['POST /swarm/update'] : []),
    ],
    'Docker writes other than the scales the outcomes report',
  );
  assert.equal(
    after.nodeScaleClaim !== before.nodeScaleClaim,
    capacity !== undefined,
    'the node-scale claim changed without a scale-out, or a scale-out without it',
  );
  for (const [name, was] of before.services) {
    const now = after.services.get(name);
    if (scaled.has(name)) {
      assert.equal(now?.replicas, scaled.get(name), `${name} is not at the replicas the outcome says`);
    } else {
      assert.deepEqual(now, was, `${name} changed without an outcome saying so`);
    }
  }

  // scale-nodes: one SetDesiredCapacity exactly when it says it scaled; replace-node: never a write.
  assert.deepEqual(
    awsWrites,
    capacity ? ['SetDesiredCapacityCommand'] : [],
    `AWS writes ${JSON.stringify(awsWrites)} with outcomes ${JSON.stringify(outcomes).slice(0, 300)}`,
  );
  if (capacity) assert.equal(ctx.asg.group.desired, capacity.to);
  if (fn === 'scale-service' || fn === 'notify') assert.deepEqual(aws, [], `${fn} called AWS`);
  if (fn === 'notify') assert.deepEqual(docker, [], 'notify asked Docker');

  // Chat: notify delivers to both targets; scale-nodes announces its scale-out; nothing else speaks.
  const speaks = (fn === 'notify' && outcomes.some((o) => o.kind === 'delivered')) || capacity !== undefined;
  assert.equal(slack.length, speaks ? 1 : 0, `${slack.length} Slack messages`);
  assert.equal(webhook.length, speaks ? 1 : 0, `${webhook.length} webhook messages`);
  if (scaled.size > 0 || capacity || speaks) report.changes += 1;
}

async function fuzzRoute(
  ctx: Context,
  fn: string,
  options: { runs: number; seed?: number },
): Promise<RouteReport> {
  const route = routes.find((r) => r.function === fn);
  if (!route) throw new Error(`no HTTP route for ${fn}`);
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const report: RouteReport = {
    route: route.path,
    cases: 0,
    statuses: {},
    bodies: {},
    outcomes: {},
    changes: 0,
    seed,
    ms: 0,
  };
  const started = Date.now();
  // Keep the acting paths reachable: each case is 10 s after the last (service cooldowns pass),
  // and the worker group forgets its last activity and the swarm its node-scale claim (their
  // 300 s cooldown), and is kept below its max.
  const ledger = createSwarmNodes(async () => ctx.direct);
  const reset = async () => {
    ctx.shift.ms += 10_000;
    ctx.asg.group.lastActivity = undefined;
    if (ctx.asg.group.desired >= ctx.asg.group.max) ctx.asg.group.desired = ctx.asg.group.min;
    const info = await ledger.inspectSwarm();
    if (info.labels[NODE_SCALE_CLAIM_LABEL] !== undefined) {
      await ledger.updateSwarm(info, { labels: { [NODE_SCALE_CLAIM_LABEL]: undefined } });
    }
  };
  await fc.assert(
    fc.asyncProperty(requests(ctx.names), async (request) => {
      report.cases += 1;
      await reset();
      await checkOne(ctx, fn, route.path, request, report);
    }),
    { numRuns: options.runs, seed, endOnFailure: true },
  );
  report.ms = Date.now() - started;
  return report;
}

export function formatReports(reports: readonly RouteReport[]): string {
  const lines = [
    '',
    'Fuzzing through the real handlers (cases, statuses, request bodies, outcomes of the 200s):',
  ];
  for (const r of reports) {
    const list = (counts: Record<string, number>) =>
      Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
    lines.push(
      `${r.route}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s (seed ${r.seed}), ${r.changes} legitimately changed something`,
      `  status: ${list(r.statuses)}`,
      `  bodies: ${list(r.bodies)}`,
      `  outcomes: ${list(r.outcomes) || 'none'}`,
    );
  }
  const total = reports.reduce((n, r) => n + r.cases, 0);
  lines.push(`total: ${total} cases`, '');
  return `${lines.join('\n')}\n`;
}
