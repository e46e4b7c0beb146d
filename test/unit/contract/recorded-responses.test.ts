import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { makeHandler as makeHealthSweep } from '../../../functions/health-sweep/handler';
import { makeHandler as makeNotify } from '../../../functions/notify/handler';
import { makeHandler as makeReplaceNode } from '../../../functions/replace-node/handler';
import { makeHandler as makeScaleNodes } from '../../../functions/scale-nodes/handler';
import { makeHandler as makeScaleService } from '../../../functions/scale-service/handler';
import { makeHandler as makeSyncJoinTokens } from '../../../functions/sync-join-tokens/handler';
import { createWorkerGroup } from '../../../shared/adapters/autoscaling';
import { createLambdaDispatcher } from '../../../shared/adapters/lambda';
import { createLogger } from '../../../shared/adapters/logger';
import { createParameterStore } from '../../../shared/adapters/ssm';
import { parseSettings } from '../../../shared/config/settings';
import { DependencyUnavailableError } from '../../../shared/domain/errors';
import { joinParameterNames } from '../../../shared/domain/join-parameters';
import { fakeAutoScaling } from '../../support/fake-autoscaling';
import { fakeLambda, throttled } from '../../support/fake-lambda';
import { FakeNodes, recordingNotifier } from '../../support/fake-nodes';
import { dockerDown, FakeServices } from '../../support/fake-services';
import { fakeSsm } from '../../support/fake-ssm';
import { FakeSwarm, fastRetry } from '../../support/fake-swarm';
import { awsError, bearer, httpEvent } from '../../support/http-event';
import { type LogSink, type Recorded, recordCall } from '../../support/recorded-responses';

// Handler modules build their default dependencies on import, from settings read once for all
// of them; sync-join-tokens refuses to load without a prefix. Set before any import runs.
const previousPrefix = vi.hoisted(() => {
  const previous = process.env.SETTINGS_PREFIX;
  process.env.SETTINGS_PREFIX = '/swarm-reflex/unit';
  return previous;
});
afterAll(() => {
  if (previousPrefix === undefined) delete process.env.SETTINGS_PREFIX;
  else process.env.SETTINGS_PREFIX = previousPrefix;
});

/**
 * The edge's contract, recorded: a fixed set of requests through every function's
 * makeHandler, with fake dependencies and a fixed clock. What each answered (or threw) and the
 * audit, request and metric records it wrote are compared with a recording made before the
 * edge moved to middy and Powertools (same statuses, bodies, outcomes and audit lines).
 * `RECORD_RESPONSES=1` writes the recording instead of comparing with it (then
 * `npx biome check --write test/fixtures/recorded-responses.json` gives it the house format).
 */
const FIXTURE = new URL('../../fixtures/recorded-responses.json', import.meta.url);
const RECORDING = process.env.RECORD_RESPONSES === '1';
const recorded: Record<string, Recorded> = RECORDING
  ? {}
  : existsSync(FIXTURE)
    ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Recorded>)
    : {};

const TOKEN = 'recorded-responses-token-0123456789';
const NOW = new Date('2026-11-24T12:00:07Z');
const clock = { now: () => NOW };
const event = (fn: string, name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../events/${fn}/${name}`, import.meta.url), 'utf8'));
const eventText = (fn: string, name: string) => JSON.stringify(event(fn, name));

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

// Every level: audit lines are written at info. A record's time is not compared (see recorded-responses.ts).
const logger = (sink: LogSink) => createLogger({ level: 'debug', sink });

/** A Lambda context as Lambda hands it (what Powertools reads), with a minute left. */
function lambdaContext(fn: string): Context {
  const name = `swarm-reflex-unit-${fn}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: '6f1d3a7e-0000-4000-8000-000000000001',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/11/24/[$LATEST]00000000000000000000000000000000',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Calls a handler as Lambda does, whatever its declared event type: the contract is the wire, not the types. */
function invoke(fn: string, handler: unknown, input: unknown): Promise<unknown> {
  return (handler as (event: unknown, context: Context) => Promise<unknown>)(input, lambdaContext(fn));
}

function webhook(
  receiver: string,
  alerts: ReadonlyArray<{ status: string; labels: Record<string, string> }>,
) {
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{receiver="${receiver}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: alerts.map((a, i) => ({
      ...a,
      annotations: {},
      startsAt: '2026-11-24T11:50:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: `f${i.toString(16).padStart(15, '0')}`,
    })),
  });
}

/** An API Gateway event; `authorization: null` sends no Authorization header. */
const http = (body: string, query?: Record<string, string>, authorization: string | null = bearer(TOKEN)) =>
  httpEvent({ body, query, authorization: authorization ?? undefined, path: '/alerts' });
const oversized = () => http(`{"pad":"${'x'.repeat(70_000)}"}`);
const settingsFor = (env: Record<string, string> = {}) =>
  parseSettings({ WEBHOOK_TOKENS: TOKEN, MAX_BODY_BYTES: '65536', ...env });

interface Case {
  name: string;
  run: (sink: LogSink) => Promise<unknown>;
}

/** The requests every HTTP function answers the same way at its edge. */
function edgeCases(fn: string, handlerFor: (sink: LogSink) => unknown, validBody: string): Case[] {
  const call = (input: () => unknown) => (sink: LogSink) => invoke(fn, handlerFor(sink), input());
  return [
    { name: '400 for a body that is not JSON', run: call(() => http('this is not json')) },
    { name: '400 for JSON that is not an Alertmanager webhook', run: call(() => http('{"hello":"world"}')) },
    { name: '400 for a bad query parameter', run: call(() => http(validBody, { dryRun: 'perhaps' })) },
    { name: '401 without an Authorization header', run: call(() => http(validBody, undefined, null)) },
    {
      name: '401 for a wrong token',
      run: call(() => http(validBody, undefined, bearer('wrong-token-wrong-token-0000'))),
    },
    { name: '413 for an oversized body', run: call(oversized) },
  ];
}

// ---- scale-service

function scaleService(sink: LogSink, options: { unreachable?: boolean } = {}) {
  const swarm = new FakeSwarm()
    .add('demo', { replicas: 1, labels: { 'com.df.scaleMax': '3' } })
    .add('web', { replicas: 3, labels: { 'com.df.scaleMax': '3' } });
  swarm.unreachable = options.unreachable ?? false;
  const settings = settingsFor();
  const deps = {
    settings,
    logger: logger(sink),
    tokens: async () => settings.webhookTokens,
    swarm,
    clock,
    ...fastRetry,
  };
  return makeScaleService(deps);
}

const scaleServiceBody = () => eventText('scale-service', 'webhook-scale-up.json');
const scaleServiceCases: Case[] = [
  {
    name: 'scales one service, skips one at its maximum, ignores a resolved alert and one without a service',
    run: (sink) =>
      invoke(
        'scale-service',
        scaleService(sink),
        http(
          webhook('scale-service', [
            { status: 'firing', labels: { alertname: 'Hot', service: 'demo', scale: 'up' } },
            { status: 'firing', labels: { alertname: 'Hot', service: 'web', scale: 'up' } },
            { status: 'resolved', labels: { alertname: 'Hot', service: 'demo', scale: 'up' } },
            { status: 'firing', labels: { alertname: 'Hot', scale: 'up' } },
          ]),
        ),
      ),
  },
  {
    name: 'dry run via ?dryRun=true',
    run: (sink) => invoke('scale-service', scaleService(sink), http(scaleServiceBody(), { dryRun: 'true' })),
  },
  {
    name: 'Jenkins-style ?service=&scale= overrides the labels',
    run: (sink) =>
      invoke(
        'scale-service',
        scaleService(sink),
        http(webhook('scale-service', [{ status: 'firing', labels: { alertname: 'Hot' } }]), {
          service: 'demo',
          scale: '2',
        }),
      ),
  },
  ...edgeCases('scale-service', (sink) => scaleService(sink), scaleServiceBody()),
  {
    name: '400 for a bad scale query parameter',
    run: (sink) => invoke('scale-service', scaleService(sink), http(scaleServiceBody(), { scale: 'lots' })),
  },
  {
    name: '503 when Docker cannot be reached',
    run: (sink) =>
      invoke('scale-service', scaleService(sink, { unreachable: true }), http(scaleServiceBody())),
  },
  {
    name: 'direct invocation of the raw webhook',
    run: (sink) =>
      invoke('scale-service', scaleService(sink), event('scale-service', 'webhook-scale-up.json')),
  },
  {
    name: 'direct invocation that fails with a 5xx throws',
    run: (sink) =>
      invoke(
        'scale-service',
        scaleService(sink, { unreachable: true }),
        event('scale-service', 'webhook-scale-up.json'),
      ),
  },
];

// ---- scale-nodes

function scaleNodes(sink: LogSink, options: { awsFails?: boolean } = {}) {
  const asg = fakeAutoScaling(
    {
      name: 'workers',
      min: 1,
      max: 5,
      desired: 2,
      instances: ['i-0000000000000a001', 'i-0000000000000a002'],
    },
    () => NOW,
  );
  cleanups.push(() => asg.mock.restore());
  if (options.awsFails) asg.hooks.fail = awsError('ServiceUnavailable', 'Service is unavailable');
  const swarm = new FakeNodes().add('m1', { role: 'manager' }).add('w1').add('w2');
  swarm.clock = () => NOW;
  const settings = settingsFor();
  const deps = {
    settings,
    logger: logger(sink),
    tokens: async () => settings.webhookTokens,
    swarm,
    tasks: swarm,
    group: createWorkerGroup(asg.client, 'workers'),
    notifier: recordingNotifier(),
    clock,
    ...fastRetry,
  };
  return makeScaleNodes(deps);
}

const scaleNodesBody = () => eventText('scale-nodes', 'webhook-scale-up.json');
const scaleNodesCases: Case[] = [
  {
    name: 'scales the worker group out',
    run: (sink) => invoke('scale-nodes', scaleNodes(sink), http(scaleNodesBody())),
  },
  {
    name: 'dry run via ?dryRun=true',
    run: (sink) => invoke('scale-nodes', scaleNodes(sink), http(scaleNodesBody(), { dryRun: 'true' })),
  },
  ...edgeCases('scale-nodes', (sink) => scaleNodes(sink), scaleNodesBody()),
  {
    name: '503 when Auto Scaling fails',
    run: (sink) => invoke('scale-nodes', scaleNodes(sink, { awsFails: true }), http(scaleNodesBody())),
  },
  {
    name: 'direct invocation of the raw webhook',
    run: (sink) => invoke('scale-nodes', scaleNodes(sink), event('scale-nodes', 'webhook-scale-up.json')),
  },
  {
    name: 'direct invocation that fails with a 5xx throws',
    run: (sink) =>
      invoke(
        'scale-nodes',
        scaleNodes(sink, { awsFails: true }),
        event('scale-nodes', 'webhook-scale-up.json'),
      ),
  },
];

// ---- replace-node

function replaceNode(sink: LogSink, options: { dockerDown?: boolean } = {}) {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('ip-10-0-1-23.eu-west-1.compute.internal', {
      address: '10.0.1.23',
      state: 'down',
      updatedAt: new Date('2026-11-24T10:00:00Z'),
    })
    .add('w2');
  swarm.clock = () => NOW;
  if (options.dockerDown) {
    swarm.listNodes = async () => {
      throw new DependencyUnavailableError(
        'docker',
        'listing nodes: Docker API unavailable (connect ECONNREFUSED)',
      );
    };
  }
  const settings = settingsFor({ NODE_DOWN_GRACE_SECONDS: '60' });
  const deps = {
    settings,
    logger: logger(sink),
    tokens: async () => settings.webhookTokens,
    swarm,
    cloud: undefined,
    notifier: recordingNotifier(),
    clock,
    ...fastRetry,
  };
  return makeReplaceNode(deps);
}

const replaceNodeBody = () => eventText('replace-node', 'webhook-node-down.json');
const replaceNodeCases: Case[] = [
  {
    name: 'replaces the node an alert names, and ignores a resolved alert',
    run: (sink) => {
      const body = JSON.parse(replaceNodeBody()) as { alerts: unknown[] };
      body.alerts.push({ status: 'resolved', labels: { alertname: 'NodeDown', node: 'w2' } });
      return invoke('replace-node', replaceNode(sink), http(JSON.stringify(body)));
    },
  },
  {
    name: 'dry run via ?dryRun=true',
    run: (sink) => invoke('replace-node', replaceNode(sink), http(replaceNodeBody(), { dryRun: 'true' })),
  },
  ...edgeCases('replace-node', (sink) => replaceNode(sink), replaceNodeBody()),
  {
    name: '503 when Docker cannot be reached',
    run: (sink) => invoke('replace-node', replaceNode(sink, { dockerDown: true }), http(replaceNodeBody())),
  },
  {
    name: 'direct invocation naming the node',
    run: (sink) => invoke('replace-node', replaceNode(sink), event('replace-node', 'direct-node.json')),
  },
  {
    name: 'direct invocation naming both a node and an instance answers 400',
    run: (sink) => invoke('replace-node', replaceNode(sink), { node: 'a', instance: 'b' }),
  },
  {
    name: 'direct invocation that fails with a 5xx throws',
    run: (sink) =>
      invoke(
        'replace-node',
        replaceNode(sink, { dockerDown: true }),
        event('replace-node', 'direct-node.json'),
      ),
  },
];

// ---- notify

function notify(sink: LogSink, options: { slackFails?: boolean } = {}) {
  const settings = settingsFor();
  const deps = {
    settings,
    logger: logger(sink),
    tokens: async () => settings.webhookTokens,
    targets: async () => [
      { kind: 'slack' as const, url: 'https://hooks.slack.test/services/T0/B0/x' },
      { kind: 'webhook' as const, url: 'https://chat.test/hook' },
    ],
    post: async (url: string) => {
      if (options.slackFails && url.includes('slack')) {
        throw new DependencyUnavailableError('chat', 'chat target answered 503');
      }
    },
  };
  return makeNotify(deps);
}

const notifyBody = () => eventText('notify', 'webhook-firing.json');
const notifyCases: Case[] = [
  {
    name: 'delivers a firing group to both targets',
    run: (sink) => invoke('notify', notify(sink), http(notifyBody())),
  },
  {
    name: 'delivers a resolved group',
    run: (sink) => invoke('notify', notify(sink), http(eventText('notify', 'webhook-resolved.json'))),
  },
  {
    name: 'dry run via ?dryRun=true',
    run: (sink) => invoke('notify', notify(sink), http(notifyBody(), { dryRun: 'true' })),
  },
  ...edgeCases('notify', (sink) => notify(sink), notifyBody()),
  {
    name: '503 when a chat target fails',
    run: (sink) => invoke('notify', notify(sink, { slackFails: true }), http(notifyBody())),
  },
  {
    name: 'direct invocation of the raw webhook',
    run: (sink) => invoke('notify', notify(sink), event('notify', 'webhook-firing.json')),
  },
  {
    name: 'direct invocation that fails with a 5xx throws',
    run: (sink) =>
      invoke('notify', notify(sink, { slackFails: true }), event('notify', 'webhook-firing.json')),
  },
];

// ---- health-sweep

function healthSweep(
  sink: LogSink,
  options: { servicesFail?: boolean; noLeader?: boolean; dispatchFails?: boolean } = {},
) {
  const nodes = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('m2', { role: 'manager' })
    .add('m3', { role: 'manager' })
    .add('w1', { state: 'down', updatedAt: new Date('2026-11-24T11:54:30Z') })
    .add('w2')
    .run('w2', 1, 'svc-api');
  nodes.clock = () => NOW;
  nodes.noLeader = options.noLeader ?? false;
  const services = new FakeServices(() => NOW)
    .add('api', { replicas: 1 })
    .add('web', { replicas: 2, updatedAt: new Date('2026-11-24T11:00:00Z') });
  if (options.servicesFail) services.listServices = async () => Promise.reject(dockerDown());
  const lambda = fakeLambda();
  cleanups.push(() => lambda.mock.restore());
  if (options.dispatchFails) lambda.hooks.fail = throttled();
  const ssm = fakeSsm(() => NOW);
  cleanups.push(() => ssm.mock.restore());
  const deps = {
    logger: logger(sink),
    dryRun: false,
    nodes,
    services,
    tasks: nodes,
    group: undefined,
    dispatcher: createLambdaDispatcher(lambda.client, {
      replaceNode: 'swarm-reflex-unit-replace-node',
      syncJoinTokens: 'swarm-reflex-unit-sync-join-tokens',
    }),
    joinParameters: { settingsPrefix: '/swarm-reflex/unit', store: createParameterStore(ssm.client) },
    notifier: recordingNotifier(),
    clock,
    settings: { nodeDownGraceSeconds: 300, sweepIntervalSeconds: 60, underReplicatedSeconds: 300 },
  };
  return makeHealthSweep(deps);
}

const healthSweepCases: Case[] = [
  {
    name: 'a schedule event: findings dispatched and counted',
    run: (sink) => invoke('health-sweep', healthSweep(sink), event('health-sweep', 'schedule.json')),
  },
  {
    name: 'direct {"dryRun": true}',
    run: (sink) => invoke('health-sweep', healthSweep(sink), event('health-sweep', 'dry-run.json')),
  },
  { name: 'direct {}', run: (sink) => invoke('health-sweep', healthSweep(sink), {}) },
  {
    name: 'a dispatch that fails is a finding, not a failure',
    run: (sink) =>
      invoke(
        'health-sweep',
        healthSweep(sink, { dispatchFails: true }),
        event('health-sweep', 'schedule.json'),
      ),
  },
  {
    name: 'a swarm without a leader is a finding',
    run: (sink) =>
      invoke('health-sweep', healthSweep(sink, { noLeader: true }), event('health-sweep', 'schedule.json')),
  },
  {
    name: 'a malformed event throws',
    run: (sink) => invoke('health-sweep', healthSweep(sink), { dryRun: 'yes' }),
  },
  {
    name: 'Docker failing throws',
    run: (sink) =>
      invoke(
        'health-sweep',
        healthSweep(sink, { servicesFail: true }),
        event('health-sweep', 'schedule.json'),
      ),
  },
];

// ---- sync-join-tokens

const PREFIX = '/swarm-reflex/unit';

async function syncJoinTokens(
  sink: LogSink,
  options: { ssmFails?: boolean; noLeader?: boolean; managersDown?: boolean; alreadySynced?: boolean } = {},
) {
  const ssm = fakeSsm(() => NOW);
  cleanups.push(() => ssm.mock.restore());
  const down = options.managersDown ? 'down' : 'ready';
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager', state: down })
    .add('m2', { role: 'manager', state: down })
    .add('w1');
  swarm.clock = () => NOW;
  const deps = {
    logger: logger(sink),
    dryRun: false,
    swarm,
    parameters: createParameterStore(ssm.client),
    notifier: recordingNotifier(),
    clock,
    settings: { settingsPrefix: PREFIX, joinTokenMaxAgeDays: 0 },
  };
  if (options.alreadySynced) {
    const names = joinParameterNames(PREFIX);
    const modified = new Date('2026-11-20T00:00:00Z');
    ssm.store.set(names.worker, { value: swarm.swarm.tokens.worker, type: 'SecureString', modified });
    ssm.store.set(names.manager, { value: swarm.swarm.tokens.manager, type: 'SecureString', modified });
    ssm.store.set(names.managers, { value: '10.0.0.10:2377,10.0.0.11:2377', type: 'String', modified });
  }
  if (options.ssmFails) ssm.hooks.fail = awsError('ThrottlingException', 'Rate exceeded');
  swarm.noLeader = options.noLeader ?? false;
  return makeSyncJoinTokens(deps);
}

const syncCall =
  (input: () => unknown, options?: Parameters<typeof syncJoinTokens>[1]) => async (sink: LogSink) =>
    invoke('sync-join-tokens', await syncJoinTokens(sink, options), input());
const syncJoinTokensCases: Case[] = [
  {
    name: 'a schedule event writes the tokens',
    run: syncCall(() => event('sync-join-tokens', 'schedule.json')),
  },
  {
    name: 'a schedule event with nothing to change',
    run: syncCall(() => event('sync-join-tokens', 'schedule.json'), { alreadySynced: true }),
  },
  { name: 'direct {"dryRun": true}', run: syncCall(() => ({ dryRun: true })) },
  { name: 'direct {"rotate": true}', run: syncCall(() => event('sync-join-tokens', 'rotate.json')) },
  {
    name: 'no reachable manager is a refusal',
    run: syncCall(() => event('sync-join-tokens', 'schedule.json'), { managersDown: true }),
  },
  { name: 'a malformed event throws', run: syncCall(() => ({ rotate: 'yes' })) },
  {
    name: 'SSM failing throws',
    run: syncCall(() => event('sync-join-tokens', 'schedule.json'), { ssmFails: true }),
  },
  {
    name: 'a swarm without a leader throws',
    run: syncCall(() => event('sync-join-tokens', 'schedule.json'), { noLeader: true }),
  },
];

const suites: Array<[string, Case[]]> = [
  ['scale-service', scaleServiceCases],
  ['scale-nodes', scaleNodesCases],
  ['replace-node', replaceNodeCases],
  ['notify', notifyCases],
  ['health-sweep', healthSweepCases],
  ['sync-join-tokens', syncJoinTokensCases],
];

for (const [fn, cases] of suites) {
  describe(`${fn} answers as recorded`, () => {
    for (const c of cases) {
      const key = `${fn}: ${c.name}`;
      it(c.name, async () => {
        const actual = await recordCall(c.run);
        if (RECORDING) {
          recorded[key] = actual;
          return;
        }
        expect(recorded[key], `no recording for "${key}": run with RECORD_RESPONSES=1`).toBeDefined();
        expect(actual).toEqual(recorded[key]);
      });
    }
  });
}

afterAll(() => {
  if (!RECORDING) return;
  mkdirSync(new URL('.', FIXTURE), { recursive: true });
  writeFileSync(FIXTURE, `${JSON.stringify(recorded, null, 2)}\n`);
});
