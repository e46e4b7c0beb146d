import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinParameterNames } from '../../shared/domain/join-parameters';
import { requireRealHarness, type SwarmNode, startSwarm, type TestSwarm } from '../harness';
import { type BootstrapResult, type RunBootstrapOptions, runBootstrap } from '../harness/bootstrap';
import { startFakeImds } from '../harness/fake-imds';

const describeSwarm = requireRealHarness(describe, ['swarm']);

const PREFIX = '/swarm-reflex/it';
// The names sync-join-tokens writes: the script must read exactly those.
const PARAM = joinParameterNames(PREFIX);

/**
 * The harness's fake IMDS, plus the item an Auto Scaling instance has and the others do not:
 * autoscaling/target-lifecycle-state, answered from `state()` at each request (IMDSv2: only
 * with a token). Everything else is passed on to the fake.
 */
async function autoScalingImds(instanceId: string, privateIp: string, state: () => string) {
  const imds = await startFakeImds({ instanceId, privateIp, failFirst: 0 });
  const asked: string[] = [];
  const server = createHttpServer((req, res) => {
    if (req.url === '/latest/meta-data/autoscaling/target-lifecycle-state') {
      if (typeof req.headers['x-aws-ec2-metadata-token'] !== 'string') {
        res.writeHead(401).end('Unauthorized');
        return;
      }
      asked.push(state());
      res.writeHead(200, { 'content-type': 'text/plain' }).end(asked.at(-1));
      return;
    }
    const upstream = request(`${imds.url}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    /** The states it answered, in order. */
    asked,
    /** Every request the fake behind it got. */
    requests: imds.requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await imds.close();
    },
  };
}

interface NodeView {
  ID: string;
  Spec: { Role: string };
  Description: { Hostname: string; Engine?: { Labels?: Record<string, string> | null } };
  Status: { State: string };
  ManagerStatus?: { Reachability?: string; Leader?: boolean };
}

describeSwarm('node bootstrap (deploy/bootstrap.sh) against a real swarm', () => {
  let swarm: TestSwarm | undefined;
  let tokens = { worker: '', manager: '' };
  let managerAddress = '';
  // Accepts TCP connections and never says a word: a manager that is "up" but cannot serve a join.
  let tarpit: Server | undefined;
  const held: Socket[] = [];
  let tarpitAddress = '';
  const outputs: string[] = [];

  beforeAll(async () => {
    swarm = await startSwarm({ managers: 2, label: 'bootstrap' });
    tokens = await swarm.joinTokens();
    managerAddress = `${swarm.manager.address}:2377`;
    const server = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => undefined);
    });
    tarpit = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, swarm?.gateway, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the tarpit has no port');
    tarpitAddress = `${swarm.gateway}:${address.port}`;
  }, 120_000);

  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => (tarpit ? tarpit.close(() => resolve()) : resolve()));
    await swarm?.teardown();
  }, 60_000);

  const current = (): TestSwarm => {
    if (!swarm) throw new Error('the swarm did not start');
    return swarm;
  };

  const parameters = (overrides: Record<string, string> = {}): Record<string, string> => ({
    [PARAM.worker]: tokens.worker,
    [PARAM.manager]: tokens.manager,
    [PARAM.managers]: managerAddress,
    ...overrides,
  });

  const bootstrap = async (
    node: SwarmNode,
    opts: Partial<RunBootstrapOptions> & { instanceId: string },
  ): Promise<BootstrapResult> => {
    const result = await runBootstrap(node, {
      role: 'worker',
      settingsPrefix: PREFIX,
      parameters: parameters(),
      ...opts,
    });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  const explain = (result: BootstrapResult): string =>
    `exit ${result.code} after ${result.durationMs} ms\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout}`;

  const listNodes = async (): Promise<NodeView[]> => current().docker().listNodes();

  const byHostname = async (hostname: string): Promise<NodeView[]> =>
    (await listNodes()).filter((n) => n.Description.Hostname === hostname);

  /** The node as the managers see it, once it is Ready (it may take a heartbeat after the join). */
  const readyNode = async (hostname: string): Promise<NodeView> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = await byHostname(hostname);
      const node = found[0];
      if (found.length === 1 && node?.Status.State === 'ready') return node;
      if (Date.now() > deadline) {
        throw new Error(
          `${hostname} is not Ready in docker node ls: ${JSON.stringify(found.map((n) => n.Status))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  const localState = async (node: SwarmNode): Promise<string> => {
    const info: { Swarm?: { LocalNodeState?: string } } = await current().docker(node).info();
    return info.Swarm?.LocalNodeState ?? 'unknown';
  };

  const reloadsIn = (node: SwarmNode): number =>
    readFileSync(join(dirname(node.configFile), 'dockerd.log'), 'utf8').split('Got signal to reload').length -
    1;

  const expectNoSecrets = (result: BootstrapResult): void => {
    for (const secret of [tokens.worker, tokens.manager]) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
      // Not even the part after the cluster's CA digest.
      expect(result.stderr).not.toContain(secret.split('-').at(-1));
    }
  };

  it('joins a fresh worker, labelled with its instance ID before it joins, without printing the token', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w1', join: false });
    const instanceId = 'i-0a1b2c3d4e5f60001';
    // Traced with bash -x, and IMDS failing at first: the retries and the trace must not leak the token.
    const result = await bootstrap(node, { instanceId, xtrace: true, imdsFailFirst: 2 });
    expect(result.code, explain(result)).toBe(0);
    expectNoSecrets(result);

    const joined = await readyNode('w1');
    expect(joined.Spec.Role).toBe('worker');
    expect(joined.Description.Engine?.Labels?.['aws.instance-id']).toBe(instanceId);
    expect(await localState(node)).toBe('active');
    expect(JSON.parse(readFileSync(node.configFile, 'utf8'))).toEqual({
      labels: [`aws.instance-id=${instanceId}`],
    });

    // The label was in place (reloaded) before the join was attempted.
    const log = result.stderr.split('\n').filter((line) => line.startsWith('bootstrap: '));
    const labelled = log.findIndex((line) =>
      line.includes(`the engine carries aws.instance-id=${instanceId}`),
    );
    const joining = log.findIndex((line) => line.includes(`joining as worker via ${managerAddress}`));
    expect(labelled, explain(result)).toBeGreaterThanOrEqual(0);
    expect(joining).toBeGreaterThan(labelled);

    // IMDSv2: the token first (after two failures), then both reads with it; then, with a token
    // of its own, where Auto Scaling takes the instance: no such item outside Auto Scaling.
    expect(result.imdsRequests.filter((r) => r.status === 500)).toHaveLength(2);
    const served = result.imdsRequests.filter((r) => r.status !== 500);
    expect(served.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/instance-id 200',
      'GET /latest/meta-data/local-ipv4 200',
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/autoscaling/target-lifecycle-state 404',
    ]);
    expect(result.imdsRequests.every((r) => r.status === 500 || r.authorized)).toBe(true);
    expect(result.stderr).toContain('no Auto Scaling lifecycle state in the instance metadata');

    // The token decrypted, the addresses as a plain String.
    expect(result.ssmCalls.map((c) => [c.name, c.withDecryption])).toEqual([
      [PARAM.worker, true],
      [PARAM.managers, false],
    ]);
    expect(result.ssmCalls.every((c) => c.args.includes('--region') && c.args.includes('eu-west-1'))).toBe(
      true,
    );
  });

  it('does nothing when run again on a node that has joined', async () => {
    const s = current();
    const node = s.node('w1');
    const nodesBefore = (await listNodes()).map((n) => n.ID).sort();
    const config = readFileSync(node.configFile, 'utf8');
    const configMtime = statSync(node.configFile).mtimeMs;
    const reloads = reloadsIn(node);
    expect(reloads).toBe(1); // what the first run did; the check below can see a second one

    const result = await bootstrap(node, { instanceId: 'i-0a1b2c3d4e5f60001' });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stderr).toMatch(/already an active swarm member/);
    expect((await listNodes()).map((n) => n.ID).sort()).toEqual(nodesBefore);
    expect(await byHostname('w1')).toHaveLength(1);
    expect(readFileSync(node.configFile, 'utf8')).toBe(config);
    expect(statSync(node.configFile).mtimeMs).toBe(configMtime);
    expect(reloadsIn(node)).toBe(reloads);
    expect(result.ssmCalls).toEqual([]);
    expect(result.imdsRequests).toEqual([]);
  });

  it('makes one member of two runs started at once on the same instance', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w5', join: false });
    const instanceId = 'i-0a1b2c3d4e5f60006';
    const [first, second] = await Promise.all([
      bootstrap(node, { instanceId }),
      bootstrap(node, { instanceId }),
    ]);
    expect(first?.code, first && explain(first)).toBe(0);
    expect(second?.code, second && explain(second)).toBe(0);
    // The lock serialises them: exactly one joined, the other found a member.
    const said = [first?.stderr ?? '', second?.stderr ?? ''];
    expect(said.filter((text) => text.includes('already an active swarm member'))).toHaveLength(1);
    expect(said.filter((text) => text.includes('joined via'))).toHaveLength(1);
    await readyNode('w5');
    expect(await byHostname('w5')).toHaveLength(1);
    expect(reloadsIn(node)).toBe(1);
  });

  it('skips a manager address with nothing on it and joins via the next', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w2', join: false });
    const dead = `${s.gateway.replace(/\.1$/, '.250')}:2377`;
    const result = await bootstrap(node, {
      instanceId: 'i-0a1b2c3d4e5f60002',
      parameters: parameters({ [PARAM.managers]: `${dead},${managerAddress}` }),
    });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stderr).toContain(`manager ${dead} refused or did not answer`);
    expect(result.stderr).toContain(`joined via ${managerAddress}`);
    expect(result.stderr).not.toContain(`joining as worker via ${dead}`);
    const joined = await readyNode('w2');
    expect(joined.Description.Engine?.Labels?.['aws.instance-id']).toBe('i-0a1b2c3d4e5f60002');
    expectNoSecrets(result);
  });

  it('abandons a manager that accepts connections but never completes the join, and joins via the next', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w3', join: false });
    const result = await bootstrap(node, {
      instanceId: 'i-0a1b2c3d4e5f60003',
      parameters: parameters({ [PARAM.managers]: `${tarpitAddress},${managerAddress}` }),
    });
    expect(result.code, explain(result)).toBe(0);
    // dockerd gives up waiting after 20 s but keeps that join pending; the script must leave it.
    expect(result.stderr).toContain(`joining as worker via ${tarpitAddress}`);
    expect(result.stderr).toMatch(/left the half-joined swarm/);
    expect(result.stderr).toContain(`joined via ${managerAddress}`);
    expect(held.length).toBeGreaterThan(0); // it really did talk to the tarpit
    await readyNode('w3');
    expect(await localState(node)).toBe('active');
    expectNoSecrets(result);
  }, 90_000);

  it('joins a manager with the manager token, keeping quorum and the engine labels it had', async () => {
    const s = current();
    const node = await s.addNode('manager', {
      name: 'm3',
      join: false,
      engineLabels: { 'aws.availability-zone': 'eu-west-1a' },
    });
    const result = await bootstrap(node, { role: 'manager', instanceId: 'i-0a1b2c3d4e5f60004' });
    expect(result.code, explain(result)).toBe(0);
    expect(result.ssmCalls.map((c) => [c.name, c.withDecryption])).toEqual([
      [PARAM.manager, true],
      [PARAM.managers, false],
    ]);
    const joined = await readyNode('m3');
    expect(joined.Spec.Role).toBe('manager');
    expect(joined.Description.Engine?.Labels).toEqual({
      'aws.availability-zone': 'eu-west-1a',
      'aws.instance-id': 'i-0a1b2c3d4e5f60004',
    });
    const deadline = Date.now() + 30_000;
    let managers: NodeView[] = [];
    for (;;) {
      managers = (await listNodes()).filter((n) => n.Spec.Role === 'manager');
      if (managers.every((n) => n.ManagerStatus?.Reachability === 'reachable')) break;
      if (Date.now() > deadline) throw new Error(`managers not all reachable: ${JSON.stringify(managers)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(managers.map((n) => n.Description.Hostname).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(managers.filter((n) => n.ManagerStatus?.Leader)).toHaveLength(1);
    // The new manager answers for the swarm itself.
    const info: { Swarm?: { ControlAvailable?: boolean; Managers?: number } } = await s.docker(node).info();
    expect(info.Swarm?.ControlAvailable).toBe(true);
    expect(info.Swarm?.Managers).toBe(3);
    expectNoSecrets(result);
  });

  it('fails with a clear message when the join token is not in SSM, leaving the node out', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w4', join: false });
    const { [PARAM.worker]: _missing, ...rest } = parameters();
    const result = await bootstrap(node, { instanceId: 'i-0a1b2c3d4e5f60005', parameters: rest });
    expect(result.code, explain(result)).toBe(6);
    expect(result.stderr).toContain(
      `bootstrap: error: cannot read SSM parameter ${PARAM.worker} after 3 attempts`,
    );
    expect(result.stderr).toContain('ParameterNotFound');
    expect(result.ssmCalls.map((c) => c.name)).toEqual([PARAM.worker, PARAM.worker, PARAM.worker]);
    expect(await localState(node)).toBe('inactive');
    expect(await byHostname('w4')).toEqual([]);
    expectNoSecrets(result);
  });

  it('waits while the instance is in a warm pool, labelled but out of the swarm, and joins when the group puts it in service', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w6', join: false });
    const instanceId = 'i-0a1b2c3d4e5f60007';
    let inService = false;
    const imds = await autoScalingImds(instanceId, node.address, () =>
      inService ? 'InService' : 'Warmed:Stopped',
    );
    try {
      const run = bootstrap(node, {
        instanceId,
        env: { IMDS_ENDPOINT: imds.url, BOOTSTRAP_WARM_POLL_SECONDS: '1' },
      });
      const deadline = Date.now() + 30_000;
      while (imds.asked.length < 3) {
        if (Date.now() > deadline) throw new Error(`asked ${imds.asked.length} times in 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // In the pool: labelled already, not a member, nobody asked for the join token.
      expect(await byHostname('w6')).toEqual([]);
      expect(await localState(node)).toBe('inactive');
      expect(JSON.parse(readFileSync(node.configFile, 'utf8'))).toEqual({
        labels: [`aws.instance-id=${instanceId}`],
      });
      inService = true;
      const result = await run;
      expect(result.code, explain(result)).toBe(0);
      const joined = await readyNode('w6');
      expect(joined.Description.Engine?.Labels?.['aws.instance-id']).toBe(instanceId);
      expect(imds.asked.slice(0, 3)).toEqual(['Warmed:Stopped', 'Warmed:Stopped', 'Warmed:Stopped']);
      expect(imds.asked.at(-1)).toBe('InService');
      // Said once, however long it waited; the join token was read only after the pool.
      const log = result.stderr.split('\n').filter((line) => line.startsWith('bootstrap: '));
      expect(log.filter((line) => line.includes('in the warm pool (Warmed:Stopped)'))).toHaveLength(1);
      const left = log.findIndex((line) => line.includes('target lifecycle state: InService'));
      expect(left, explain(result)).toBeGreaterThan(
        log.findIndex((line) => line.includes('the engine carries aws.instance-id')),
      );
      expect(log.findIndex((line) => line.includes('joining as worker via'))).toBeGreaterThan(left);
      expect(result.ssmCalls.map((c) => c.name)).toEqual([PARAM.worker, PARAM.managers]);
      expectNoSecrets(result);
    } finally {
      await imds.close();
    }
  });

  it('does not join an instance the group is terminating, and reads no join token for it', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w7', join: false });
    for (const state of ['Terminated', 'Warmed:Terminated']) {
      const instanceId = 'i-0a1b2c3d4e5f60008';
      const imds = await autoScalingImds(instanceId, node.address, () => state);
      try {
        const result = await bootstrap(node, { instanceId, env: { IMDS_ENDPOINT: imds.url } });
        expect(result.code, explain(result)).toBe(0);
        expect(result.stderr).toContain(
          `the Auto Scaling group is terminating this instance (${state}); not joining`,
        );
        expect(result.ssmCalls).toEqual([]);
        expect(await localState(node)).toBe('inactive');
        expect(await byHostname('w7')).toEqual([]);
      } finally {
        await imds.close();
      }
    }
  });

  it('joins again, as a new node, when an instance whose node was removed while it was stopped boots (a warm pool reusing it)', async () => {
    const s = current();
    const node = await s.addNode('worker', { name: 'w8', join: false });
    const instanceId = 'i-0a1b2c3d4e5f60009';
    const first = await bootstrap(node, { instanceId });
    expect(first.code, explain(first)).toBe(0);
    const before = await readyNode('w8');
    // Stopped (back into a warm pool, ReuseOnScaleIn), and node-lifecycle removed its node.
    await s.killNode('w8');
    const down = Date.now() + 60_000;
    while ((await listNodes()).find((n) => n.ID === before.ID)?.Status.State !== 'down') {
      if (Date.now() > down) throw new Error('w8 is not down 60 s after its engine was killed');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await s.docker().getNode(before.ID).remove({});
    await s.restartNode('w8');
    // Its engine still holds the old membership, which the managers refuse: stuck in pending.
    const deadline = Date.now() + 15_000;
    while ((await localState(node)) !== 'pending' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(await localState(node)).toBe('pending');

    const imds = await autoScalingImds(instanceId, node.address, () => 'InService');
    try {
      const result = await bootstrap(node, { instanceId, env: { IMDS_ENDPOINT: imds.url } });
      expect(result.code, explain(result)).toBe(0);
      expect(result.stderr).toMatch(/left the half-joined swarm \(stuck in pending\)/);
      expect(result.stderr).toContain('target lifecycle state: InService');
      const after = await readyNode('w8');
      expect(after.ID).not.toBe(before.ID);
      expect(after.Description.Engine?.Labels?.['aws.instance-id']).toBe(instanceId);
      expect((await listNodes()).some((n) => n.ID === before.ID)).toBe(false);
      expectNoSecrets(result);
    } finally {
      await imds.close();
    }
  });

  it('never printed a join token in any run', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(16);
    for (const text of outputs) {
      expect(text).not.toContain(tokens.worker);
      expect(text).not.toContain(tokens.manager);
    }
  });
});
