import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinParameterNames } from '../../shared/domain/join-parameters';
import { requireRealHarness, type SwarmNode, startSwarm, type TestSwarm } from '../harness';
import { type BootstrapResult, type RunBootstrapOptions, runBootstrap } from '../harness/bootstrap';

const describeSwarm = requireRealHarness(describe, ['swarm']);

const PREFIX = '/swarm-reflex/it';
// The names sync-join-tokens writes: the script must read exactly those.
const PARAM = joinParameterNames(PREFIX);

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

    // IMDSv2: the token first (after two failures), then both reads with it.
    expect(result.imdsRequests.filter((r) => r.status === 500)).toHaveLength(2);
    const served = result.imdsRequests.filter((r) => r.status === 200);
    expect(served.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PUT /latest/api/token',
      'GET /latest/meta-data/instance-id',
      'GET /latest/meta-data/local-ipv4',
    ]);
    expect(result.imdsRequests.every((r) => r.status === 500 || r.authorized)).toBe(true);

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

  it('never printed a join token in any run', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(16);
    for (const text of outputs) {
      expect(text).not.toContain(tokens.worker);
      expect(text).not.toContain(tokens.manager);
    }
  });
});
