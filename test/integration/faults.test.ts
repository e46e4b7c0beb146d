import { readFileSync } from 'node:fs';
import { SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeHandler as makeReplaceNode } from '../../functions/replace-node/handler';
import { makeHandler as makeScaleNodes } from '../../functions/scale-nodes/handler';
import { makeHandler as makeScaleService } from '../../functions/scale-service/handler';
import { makeHandler as makeSyncJoinTokens } from '../../functions/sync-join-tokens/handler';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { createDockerClient } from '../../shared/adapters/docker';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLogger } from '../../shared/adapters/logger';
import { createParameterStore } from '../../shared/adapters/ssm';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { joinParameterNames } from '../../shared/domain/join-parameters';
import { LAST_SCALE_LABEL, NODE_SCALE_CLAIM_LABEL, REPLACING_NODE_TAG } from '../../shared/domain/labels';
import {
  type ChatReceiver,
  type DockerProxy,
  requireRealHarness,
  serviceState,
  startChatReceiver,
  startDockerProxy,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { fakeAutoScaling } from '../support/fake-autoscaling';
import { type FakeInstance, fakeEc2 } from '../support/fake-ec2';
import { fakeSsm } from '../support/fake-ssm';
import { awsError, bearer, httpEvent } from '../support/http-event';
import { realNotifier } from '../support/real-deps';

/**
 * Faults between the functions and what they depend on, injected for real: a proxy in front
 * of the manager's Docker socket refuses, stalls, errors or cuts the answer of a request that
 * Docker has applied; the AWS SDK mocks throttle or deny. After each fault: the answer is 503
 * (or the invocation fails), nothing is half-done that a retry does not finish, and nothing is
 * done twice.
 */
// Loading the handler modules builds their default dependencies from the environment (as at a
// cold start); sync-join-tokens' need a settings prefix. Set before the imports, unset after.
const hoisted = vi.hoisted(() => {
  const had = process.env.SETTINGS_PREFIX !== undefined;
  process.env.SETTINGS_PREFIX ??= '/swarm-reflex/it-faults-default';
  return { had };
});
if (!hoisted.had) delete process.env.SETTINGS_PREFIX;

const describeReal = requireRealHarness(describe, ['swarm']);
const TOKEN = 'faults-it-token-0123456789';
const DOCKER_TIMEOUT_MS = '400';
const CLUSTER = { key: 'swarm-reflex:cluster', value: 'faults' };
const PREFIX = '/swarm-reflex/it-faults';
const quiet = createLogger({ level: 'error', sink: () => {} });
const upFixture = readFileSync(
  new URL('../../events/scale-service/webhook-scale-up.json', import.meta.url),
  'utf8',
);

/** Every fault injected and what came of it, printed at the end (the issue asks for the table). */
const table: Array<{ target: string; fault: string; result: string }> = [];
const record = (target: string, fault: string, result: string) => table.push({ target, fault, result });

const body = (response: { body: string }) => JSON.parse(response.body) as Record<string, unknown>;
const firstOutcome = (response: { body: string }) =>
  ((body(response).outcomes as Array<Record<string, unknown>> | undefined) ?? [])[0] ?? {};
const brief = (response: { statusCode: number; body: string }) => {
  const o = firstOutcome(response);
  return `${response.statusCode}${o.kind ? ` ${o.kind}${o.reason ? `: ${o.reason}` : ''}` : ''}`;
};

describeReal('under fire: Docker and AWS faults against a real swarm, through a fault proxy', () => {
  let swarm: TestSwarm;
  let proxy: DockerProxy;
  let chat: ChatReceiver;

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 1, workers: 2, label: 'faults' }),
      startChatReceiver(),
    ]);
    proxy = await startDockerProxy(swarm.manager.socketPath);
    // Dead for the replace-node tests further down; swarm notices in about 15 s, meanwhile the rest runs.
    await Promise.all([swarm.killNode('w1'), swarm.killNode('w2')]);
  });

  afterEach(() => {
    proxy?.setMode('pass');
    proxy?.resetCounts();
  });

  afterAll(async () => {
    await proxy?.close();
    await chat?.close();
    await swarm?.teardown();
    if (table.length > 0) {
      const lines = table.map((r) => `| ${r.target} | ${r.fault} | ${r.result} |`);
      process.stdout.write(
        `\nFaults injected and what happened:\n| function | fault | result |\n|---|---|---|\n${lines.join('\n')}\n\n`,
      );
    }
  });

  /** Docker through the proxy, with a short timeout, as the functions would reach it. */
  const settingsFor = (env: Record<string, string> = {}) =>
    parseSettings({
      WEBHOOK_TOKENS: TOKEN,
      DOCKER_HOST: proxy.dockerHost,
      DOCKER_TIMEOUT_MS,
      ...env,
    });
  const proxiedDocker = (settings: ReturnType<typeof settingsFor>) => {
    const docker = createDockerClient(settings.docker);
    return async () => docker;
  };

  /** Updates Docker applied (answered 200), whether or not the caller heard the answer. */
  const applied = (key: string) =>
    proxy.requests().filter((r) => r.key === key && r.status !== undefined && r.status < 300).length;

  describe('scale-service', () => {
    function handler() {
      const settings = settingsFor();
      return makeScaleService({
        settings,
        logger: quiet,
        tokens: async () => settings.webhookTokens,
        swarm: createSwarmServices(proxiedDocker(settings)),
        clock: { now: () => new Date() },
      });
    }

    function deliver(service: string) {
      const webhook = JSON.parse(upFixture) as { alerts: Array<{ labels: Record<string, string> }> };
      for (const alert of webhook.alerts) alert.labels = { ...alert.labels, service, scale: 'up' };
      return handler()(httpEvent({ body: JSON.stringify(webhook), authorization: bearer(TOKEN) }));
    }

    const state = (name: string) => serviceState(swarm.docker(), name);

    async function service(name: string) {
      await swarm.createService({
        name,
        replicas: 1,
        labels: { 'com.df.scaleMax': '5', 'com.df.scaleCooldown': '600' },
      });
      return state(name);
    }

    const INSPECT = 'GET /services/:id';
    const UPDATE = 'POST /services/:id/update';

    it('answers 503 with retry when Docker refuses every connection, changes nothing, and a later retry scales', async () => {
      const before = await service('f-refuse');
      proxy.setMode('refuse');
      const response = await deliver('f-refuse');
      expect(response.statusCode).toBe(503);
      expect(body(response)).toMatchObject({ error: 'DependencyUnavailableError', retry: true });
      // One try and the three bounded retries, then it gives up: no update was ever sent.
      expect(proxy.counts()).toEqual({ [INSPECT]: 4 });
      proxy.setMode('pass');
      expect(await state('f-refuse')).toEqual(before);
      record(
        'scale-service',
        'refuse every connection',
        `${brief(response)}; 4 inspects, no update; no change`,
      );

      const retry = await deliver('f-refuse');
      expect(firstOutcome(retry)).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
      expect((await state('f-refuse')).replicas).toBe(2);
      record('scale-service', '… then the fault clears, Alertmanager retries', `${brief(retry)} 1→2`);
    });

    it('answers 503 when every request stalls past DOCKER_TIMEOUT_MS, and the stalled requests change nothing later', async () => {
      const before = await service('f-delay');
      proxy.setMode({ kind: 'delay', ms: 1_500 });
      const response = await deliver('f-delay');
      expect(response.statusCode).toBe(503);
      expect(body(response)).toMatchObject({ retry: true });
      expect(proxy.counts()).toEqual({ [INSPECT]: 4 });
      // Past the hold: what was held is dropped, not applied late.
      await new Promise((r) => setTimeout(r, 1_600));
      proxy.setMode('pass');
      expect(await state('f-delay')).toEqual(before);
      record(
        'scale-service',
        `delay every request 1500 ms (timeout ${DOCKER_TIMEOUT_MS} ms)`,
        `${brief(response)}; 4 inspects timed out; no change`,
      );
    });

    it('answers 503 when Docker answers 500 to everything, and changes nothing', async () => {
      const before = await service('f-500');
      proxy.setMode('status500');
      const response = await deliver('f-500');
      expect(response.statusCode).toBe(503);
      expect(proxy.counts()).toEqual({ [INSPECT]: 4 });
      proxy.setMode('pass');
      expect(await state('f-500')).toEqual(before);
      record('scale-service', 'HTTP 500 to every request', `${brief(response)}; 4 inspects; no change`);
    });

    it('rides out a fault on the first request only within the same delivery, scaling once', async () => {
      await service('f-first');
      proxy.setMode('refuse', { times: 1 });
      const response = await deliver('f-first');
      expect(response.statusCode).toBe(200);
      expect(firstOutcome(response)).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
      expect(proxy.counts()).toEqual({ [INSPECT]: 2, [UPDATE]: 1 });
      expect(applied(UPDATE)).toBe(1);
      expect((await state('f-first')).replicas).toBe(2);
      record(
        'scale-service',
        'refuse the first request only',
        `${brief(response)} 1→2; 2 inspects, 1 update`,
      );

      await service('f-first-update');
      proxy.setMode('status500', { match: 'POST /services/*/update', times: 1 });
      const second = await deliver('f-first-update');
      expect(firstOutcome(second)).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
      expect(applied(UPDATE)).toBe(2); // f-first's and this one's: the 500 was never applied
      expect((await state('f-first-update')).replicas).toBe(2);
      record(
        'scale-service',
        'HTTP 500 to the first update only',
        `${brief(second)} 1→2; re-read, decided again, 1 update applied`,
      );
    });

    it('finishes, and never repeats, an update Docker applied but whose answer was cut', async () => {
      await service('f-cut');
      proxy.setMode('cut', { match: 'POST /services/*/update' });
      const first = await deliver('f-cut');
      proxy.setMode('pass');
      // Whether the delivery noticed its own write or gave up, what happened must be what it says.
      expect([200, 503]).toContain(first.statusCode);
      const retry = await deliver('f-cut');
      const after = await state('f-cut');
      expect(after.replicas).toBe(2);
      expect(after.labels[LAST_SCALE_LABEL]).toBe('1->2');
      expect(applied(UPDATE)).toBe(1);
      expect(firstOutcome(retry)).toMatchObject({ kind: 'skipped', reason: 'cooldown' });
      // The delivery that did scale says so, even though Docker's answer never reached it.
      expect(firstOutcome(first)).toMatchObject({ kind: 'scaled', from: 1, to: 2 });
      record(
        'scale-service',
        'cut every update after Docker applied it',
        `${brief(first)} 1→2 (recognised its own write on re-read); retry: ${brief(retry)}; 1 update applied in all`,
      );
    });
  });

  describe('replace-node', () => {
    const instances: FakeInstance[] = [];
    let ec2: ReturnType<typeof fakeEc2>;
    let offset = 0;

    beforeAll(() => {
      for (const node of swarm.nodes) {
        instances.push({
          id: `i-0fa017${(instances.length + 1).toString().padStart(11, '0')}`,
          state: 'running',
          privateIp: node.address,
          tags: { [CLUSTER.key]: CLUSTER.value },
        });
      }
      ec2 = fakeEc2(instances);
    });
    afterEach(() => {
      ec2.hooks.fail = undefined;
      ec2.hooks.failOn = undefined;
    });
    afterAll(() => ec2?.mock.restore());

    const instanceOf = (name: string) => instances.find((i) => i.privateIp === swarm.node(name).address);

    function handler() {
      const settings = settingsFor({
        CLOUD: 'aws',
        CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`,
        NODE_DOWN_GRACE_SECONDS: '0',
        MAX_DOWN_SHARE: '0.67',
        MAX_REPLACEMENTS_PER_HOUR: '5',
      });
      return makeReplaceNode({
        settings,
        logger: quiet,
        tokens: async () => settings.webhookTokens,
        swarm: createSwarmNodes(proxiedDocker(settings)),
        cloud: createCloudInstances(ec2.client, CLUSTER),
        notifier: realNotifier('replace-node', { webhook: chat.url }),
        // Alertmanager's later deliveries come later: tests move this clock forward.
        clock: { now: () => new Date(Date.now() + offset) },
      });
    }

    const deliver = (node: string) =>
      handler()(
        httpEvent({
          authorization: bearer(TOKEN),
          body: JSON.stringify({
            version: '4',
            status: 'firing',
            alerts: [{ status: 'firing', labels: { alertname: 'NodeDown', type: 'node', node } }],
          }),
        }),
      );

    const listed = async (name: string) =>
      ((await swarm.docker().listNodes()) as Array<{ ID: string }>).some(
        (n) => n.ID === swarm.node(name).nodeId,
      );
    const calls = (command: Parameters<typeof ec2.mock.commandCalls>[0]) =>
      ec2.mock.commandCalls(command).length;

    it('answers 503 and changes nothing when Docker refuses; a removal whose answer was cut is finished by the retry, once', async () => {
      await swarm.waitForNodeState('w1', 'down', 60_000);
      const w1 = instanceOf('w1');
      proxy.setMode('refuse');
      const refused = await deliver('w1');
      expect(refused.statusCode).toBe(503);
      expect(body(refused)).toMatchObject({ retry: true });
      expect(await listed('w1')).toBe(true);
      expect(calls(CreateTagsCommand)).toBe(0);
      record(
        'replace-node',
        'refuse every Docker connection',
        `${brief(refused)}; nothing tagged, removed or terminated`,
      );

      proxy.setMode('cut', { match: 'DELETE /nodes/*' });
      const cut = await deliver('w1');
      proxy.setMode('pass');
      expect(await listed('w1')).toBe(false);
      expect(applied('DELETE /nodes/:id')).toBe(1);
      const retry = await deliver('w1');
      // Finished by the delivery itself or by its retry; either way exactly one termination.
      expect(ec2.terminated).toEqual([w1?.id]);
      expect(calls(TerminateInstancesCommand)).toBe(1);
      expect(w1?.tags[REPLACING_NODE_TAG]).toBe(swarm.node('w1').nodeId);
      expect(firstOutcome(cut)).toMatchObject({ kind: 'replaced', instance: w1?.id });
      expect(firstOutcome(retry)).toMatchObject({ kind: 'skipped', reason: 'already-replaced' });
      record(
        'replace-node',
        'cut the node removal after Docker applied it',
        `${brief(cut)} (resumed at once: terminated); retry: ${brief(retry)}; 1 removal, 1 TerminateInstances`,
      );
    });

    it('answers 503 on EC2 throttling and access denied; the next delivery after a minute terminates, once', async () => {
      await swarm.waitForNodeState('w2', 'down', 60_000);
      const w2 = instanceOf('w2');
      const terminatedBefore = calls(TerminateInstancesCommand);

      ec2.hooks.fail = awsError('RequestLimitExceeded', 'Request limit exceeded.');
      const throttled = await deliver('w2');
      ec2.hooks.fail = undefined;
      expect(throttled.statusCode).toBe(503);
      expect(await listed('w2')).toBe(true);
      expect(w2?.tags[REPLACING_NODE_TAG]).toBeUndefined();
      record(
        'replace-node',
        'EC2 RequestLimitExceeded on every call',
        `${brief(throttled)}; nothing tagged or removed`,
      );

      ec2.hooks.failOn = (action) =>
        action === 'TerminateInstances' ? awsError('UnauthorizedOperation', 'not authorized') : undefined;
      const denied = await deliver('w2');
      ec2.hooks.failOn = undefined;
      expect(denied.statusCode).toBe(503);
      expect(await listed('w2')).toBe(false);
      expect(w2?.state).toBe('running');
      record(
        'replace-node',
        'EC2 UnauthorizedOperation on TerminateInstances only',
        `${brief(denied)}; node removed, instance tagged, not terminated (4 tries)`,
      );

      // Straight away, a retry cannot tell this replacement from one still running elsewhere.
      const early = await deliver('w2');
      expect(firstOutcome(early)).toMatchObject({ kind: 'skipped', reason: 'in-progress' });
      expect(w2?.state).toBe('running');
      offset += 61_000;
      const later = await deliver('w2');
      expect(firstOutcome(later)).toMatchObject({ kind: 'replaced', instance: w2?.id });
      const again = await deliver('w2');
      expect(firstOutcome(again)).toMatchObject({ kind: 'skipped', reason: 'already-replaced' });
      expect(ec2.terminated.filter((id) => id === w2?.id)).toHaveLength(1);
      expect(calls(TerminateInstancesCommand) - terminatedBefore).toBe(5); // 4 denied + 1
      record(
        'replace-node',
        '… fault cleared: retry at once, then a minute later',
        `at once: ${brief(early)}; a minute later: ${brief(later)}; then ${brief(again)}; 1 termination`,
      );
    });
  });

  describe('sync-join-tokens', () => {
    let ssm: ReturnType<typeof fakeSsm>;
    const names = joinParameterNames(PREFIX);
    beforeAll(() => {
      ssm = fakeSsm();
    });
    afterEach(() => {
      ssm.hooks.fail = undefined;
      ssm.hooks.failOn = undefined;
    });
    afterAll(() => ssm?.mock.restore());

    function handler() {
      const settings = settingsFor({ SETTINGS_PREFIX: PREFIX });
      return makeSyncJoinTokens({
        logger: quiet,
        dryRun: false,
        swarm: createSwarmNodes(proxiedDocker(settings)),
        parameters: createParameterStore(ssm.client),
        notifier: realNotifier('sync-join-tokens', {}),
        clock: { now: () => new Date() },
        settings: { settingsPrefix: PREFIX, joinTokenMaxAgeDays: 0 },
      });
    }
    const puts = () => ssm.mock.commandCalls(PutParameterCommand).length;
    const swarmTokens = async () =>
      ((await swarm.docker().swarmInspect()) as { JoinTokens: { Worker: string; Manager: string } })
        .JoinTokens;

    it('fails the invocation when Docker refuses (nothing written); after SSM throttles mid-way, the retry writes the rest, each once', async () => {
      proxy.setMode('refuse');
      await expect(handler()({})).rejects.toThrow(/Docker API unavailable/);
      proxy.setMode('pass');
      expect(ssm.store.size).toBe(0);
      record('sync-join-tokens', 'refuse every Docker connection', 'invocation failed; nothing written');

      let n = 0;
      ssm.hooks.failOn = (action) =>
        action === 'PutParameter' && ++n === 2 ? awsError('ThrottlingException', 'Rate exceeded') : undefined;
      await expect(handler()({})).rejects.toThrow(/ThrottlingException/);
      ssm.hooks.failOn = undefined;
      expect([...ssm.store.keys()]).toEqual([names.worker]);
      const retry = await handler()({});
      expect(retry.outcomes[0]).toMatchObject({ kind: 'synced', changed: [names.manager, names.managers] });
      expect((await handler()({})).outcomes[0]).toMatchObject({ kind: 'unchanged' });
      const tokens = await swarmTokens();
      expect(ssm.store.get(names.worker)?.value).toBe(tokens.Worker);
      expect(ssm.store.get(names.manager)?.value).toBe(tokens.Manager);
      expect(puts()).toBe(4); // 1 + the throttled one + the 2 the retry wrote
      record(
        'sync-join-tokens',
        'SSM ThrottlingException on the 2nd PutParameter',
        'invocation failed with 1 of 3 written; retry: synced the other 2; next run: unchanged',
      );
    });

    it('completes a rotation whose answer was cut on the next scheduled run, without rotating again', async () => {
      const before = await swarmTokens();
      proxy.setMode('cut', { match: 'POST /swarm/update' });
      await expect(handler()({ rotate: true })).rejects.toThrow();
      proxy.setMode('pass');
      const rotated = await swarmTokens();
      expect(rotated.Worker).not.toBe(before.Worker);
      // Half-done: the swarm has new tokens, SSM the old ones (a new node could not join yet).
      expect(ssm.store.get(names.worker)?.value).toBe(before.Worker);
      const next = await handler()({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
      expect(next.outcomes[0]).toMatchObject({ kind: 'synced', rotated: false });
      expect(await swarmTokens()).toEqual(rotated);
      expect(ssm.store.get(names.worker)?.value).toBe(rotated.Worker);
      expect(ssm.store.get(names.manager)?.value).toBe(rotated.Manager);
      expect(applied('POST /swarm/update')).toBe(1);
      record(
        'sync-join-tokens',
        'cut the rotation (swarm update) after Docker applied it',
        'invocation failed; next scheduled run wrote the new tokens, no second rotation',
      );
    });
  });

  describe('scale-nodes', () => {
    let asg: ReturnType<typeof fakeAutoScaling>;
    beforeAll(() => {
      asg = fakeAutoScaling(
        {
          name: 'workers',
          min: 1,
          max: 6,
          desired: 2,
          instances: ['i-0fa01700000000001', 'i-0fa01700000000002'],
        },
        () => new Date(),
      );
    });
    afterEach(() => {
      asg.hooks.fail = undefined;
      asg.hooks.failOn = undefined;
      asg.hooks.onSetDesired = undefined;
    });
    afterAll(() => asg?.mock.restore());

    function handler() {
      const settings = settingsFor({
        CLOUD: 'aws',
        CLUSTER_TAG: `${CLUSTER.key}=${CLUSTER.value}`,
        WORKER_ASG_NAME: 'workers',
      });
      const docker = proxiedDocker(settings);
      return makeScaleNodes({
        settings,
        logger: quiet,
        tokens: async () => settings.webhookTokens,
        swarm: createSwarmNodes(docker),
        tasks: createSwarmTasks(docker),
        group: createWorkerGroup(asg.client, 'workers'),
        notifier: realNotifier('scale-nodes', { webhook: chat.url }),
        clock: { now: () => new Date() },
      });
    }
    const deliver = () =>
      handler()(
        httpEvent({
          authorization: bearer(TOKEN),
          body: JSON.stringify({
            version: '4',
            status: 'firing',
            alerts: [{ status: 'firing', labels: { alertname: 'Capacity', type: 'node', scale: 'up' } }],
          }),
        }),
      );
    const sets = () => asg.mock.commandCalls(SetDesiredCapacityCommand).length;
    const scaleMessages = () =>
      (chat.messages as Array<{ title?: string }>).filter((m) => m.title?.startsWith('Scaling workers out'))
        .length;

    it('answers 503 and leaves the capacity alone when Docker refuses or Auto Scaling throttles; the retry scales once', async () => {
      proxy.setMode('refuse');
      const refused = await deliver();
      proxy.setMode('pass');
      expect(refused.statusCode).toBe(503);
      expect(sets()).toBe(0);
      record('scale-nodes', 'refuse every Docker connection', `${brief(refused)}; capacity untouched`);

      asg.hooks.failOn = (action) =>
        action === 'SetDesiredCapacity' ? awsError('ThrottlingException', 'Rate exceeded') : undefined;
      const throttled = await deliver();
      asg.hooks.failOn = undefined;
      expect(throttled.statusCode).toBe(503);
      expect(asg.group.desired).toBe(2);
      expect(sets()).toBe(4);
      record(
        'scale-nodes',
        'Auto Scaling ThrottlingException on SetDesiredCapacity',
        `${brief(throttled)}; 4 tries; capacity untouched`,
      );

      asg.hooks.fail = awsError('AccessDenied', 'not authorized to DescribeAutoScalingGroups');
      const denied = await deliver();
      asg.hooks.fail = undefined;
      expect(denied.statusCode).toBe(503);
      expect(sets()).toBe(4);
      record(
        'scale-nodes',
        'Auto Scaling AccessDenied on every call',
        `${brief(denied)}; capacity untouched`,
      );

      const retry = await deliver();
      expect(firstOutcome(retry)).toMatchObject({ kind: 'scaled', from: 2, to: 3 });
      expect(asg.group.desired).toBe(3);
      // The notifier waits for the receiver's answer, so the message is there when the handler returns.
      expect(scaleMessages()).toBe(1);
      record(
        'scale-nodes',
        '… faults cleared, Alertmanager retries',
        `${brief(retry)} 2→3; one chat message`,
      );
    });

    it('does not scale twice when Auto Scaling applied the change but the answer was lost', async () => {
      // Past the cooldown of the previous test: the group's activity and the claim on the swarm.
      asg.group.lastActivity = undefined;
      const ledger = createSwarmNodes(async () => swarm.docker());
      await ledger.updateSwarm(await ledger.inspectSwarm(), {
        labels: { [NODE_SCALE_CLAIM_LABEL]: undefined },
      });
      const messagesBefore = scaleMessages();
      let lost = true;
      asg.hooks.onSetDesired = () => {
        if (lost) {
          lost = false;
          throw awsError('InternalFailure', 'connection reset after the change');
        }
      };
      const first = await deliver();
      asg.hooks.onSetDesired = undefined;
      const retry = await deliver();
      expect(asg.group.desired).toBe(4);
      expect(sets()).toBe(6); // the 5 above and this one: the delivery did not set it again
      // The delivery whose change went through says so, and tells the people, once.
      expect(firstOutcome(first)).toMatchObject({ kind: 'scaled', from: 3, to: 4 });
      expect(scaleMessages() - messagesBefore).toBe(1);
      expect(firstOutcome(retry)).toMatchObject({ kind: 'skipped', reason: 'cooldown' });
      record(
        'scale-nodes',
        'SetDesiredCapacity applied, then an error (answer lost)',
        `${brief(first)}; retry: ${brief(retry)}; capacity 3→4 once; ${scaleMessages() - messagesBefore} chat message(s)`,
      );
    });
  });
});
