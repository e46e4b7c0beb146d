import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  freePort,
  type HostResources,
  requireRealHarness,
  startAlertmanager,
  startSwarm,
  type TestAlertmanager,
  type TestSwarm,
} from '../harness';

const describeSwarm = requireRealHarness(describe, ['swarm']);
const describeAlertmanager = requireRealHarness(describe, ['alertmanager']);

const output = (cmd: string, args: string[]): string =>
  spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '';

/** Which of a swarm's host resources still exist (other swarms may come and go meanwhile). */
function remaining(resources: HostResources): string[] {
  const netns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : [];
  const links = output('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '');
  const rules = output('iptables', ['-w', '-S', 'FORWARD']).split('\n');
  const cgroups = readdirSync('/sys/fs/cgroup').flatMap((hierarchy) =>
    existsSync(`/sys/fs/cgroup/${hierarchy}`) && statSync(`/sys/fs/cgroup/${hierarchy}`).isDirectory()
      ? readdirSync(`/sys/fs/cgroup/${hierarchy}`)
      : [],
  );
  return [
    ...resources.netns.filter((name) => netns.includes(name)).map((name) => `netns ${name}`),
    ...[resources.bridge, ...resources.veths]
      .filter((name) => links.includes(name))
      .map((name) => `link ${name}`),
    ...rules.filter((rule) => rule === `-A FORWARD ${resources.forwardRule.join(' ')}`),
    ...resources.cgroups.filter((name) => cgroups.includes(name)).map((name) => `cgroup ${name}`),
  ];
}

function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** True once `pid` has exited (a zombie waiting to be reaped counts as exited). */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const webhook = z.object({
  version: z.string(),
  status: z.string(),
  alerts: z.array(z.object({ labels: z.record(z.string(), z.string()) })),
});
type Webhook = z.infer<typeof webhook>;

describeSwarm('a real test swarm', () => {
  let swarm: TestSwarm | undefined;

  beforeAll(async () => {
    swarm = await startSwarm({ workers: 1, label: 'harness-test' });
  }, 180_000);

  afterAll(async () => {
    await swarm?.teardown();
  }, 60_000);

  const current = (): TestSwarm => {
    if (!swarm) throw new Error('the swarm did not start');
    return swarm;
  };

  it('starts a manager and a worker that are both Ready, each with its own hostname', async () => {
    const nodes: Array<{
      ID: string;
      Spec: { Role: string };
      Description: { Hostname: string };
      Status: { State: string };
    }> = await current().docker().listNodes();
    const summary = nodes
      .map((n) => ({ hostname: n.Description.Hostname, role: n.Spec.Role, state: n.Status.State }))
      .sort((a, b) => a.hostname.localeCompare(b.hostname));
    expect(summary).toEqual([
      { hostname: 'm1', role: 'manager', state: 'ready' },
      { hostname: 'w1', role: 'worker', state: 'ready' },
    ]);
    expect(
      current()
        .nodes.map((n) => n.nodeId)
        .sort(),
    ).toEqual(nodes.map((n) => n.ID).sort());
  });

  it('runs a replicated service from the local busybox image on every node without a registry', async () => {
    const s = current();
    for (const node of s.nodes) {
      await expect(s.docker(node).getImage('local/busybox:1').inspect()).resolves.toBeTruthy();
    }
    const id = await s.createService({ name: 'probe', replicas: 2, labels: { 'com.df.notify': 'true' } });
    await s.waitForRunningTasks('probe', 2, 60_000);
    const service: { Spec: { Labels: Record<string, string> } } = await s.docker().getService(id).inspect();
    expect(service.Spec.Labels['com.df.notify']).toBe('true');
  }, 90_000);

  it('reports a worker whose dockerd was killed as down', async () => {
    const s = current();
    const worker = s.node('w1');
    const pid = worker.pid;
    expect(pid).toBeGreaterThan(0);
    await s.killNode('w1');
    expect(worker.pid).toBe(0);
    expect(exited(pid)).toBe(true);
    await s.waitForNodeState('w1', 'down', 60_000);
    await s.waitForNodeState('m1', 'ready', 5_000);
  }, 90_000);

  it('leaves no daemon, namespace, interface, FORWARD rule or temp dir behind after teardown', async () => {
    const s = current();
    const dir = s.dir;
    const resources = s.hostResources;
    const daemons = s.nodes.map((n) => n.pid).filter((pid) => pid > 0);
    // The check below must be able to see what it checks for.
    expect(remaining(resources)).toEqual(
      expect.arrayContaining([
        ...resources.netns.map((name) => `netns ${name}`),
        ...[resources.bridge, ...resources.veths].map((name) => `link ${name}`),
        `-A FORWARD ${resources.forwardRule.join(' ')}`,
      ]),
    );
    expect(processesMentioning(`${dir}/`).length).toBeGreaterThan(0);
    await s.teardown();
    await s.teardown(); // idempotent
    expect(remaining(resources)).toEqual([]);
    expect(daemons.every(exited)).toBe(true);
    expect(processesMentioning(`${dir}/`)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(s.nodes.every((n) => n.pid === 0)).toBe(true);
  }, 60_000);
});

interface Received {
  authorization: string | undefined;
  body: Webhook;
}

describeAlertmanager('a real Alertmanager', () => {
  let alertmanager: TestAlertmanager | undefined;
  let server: Server | undefined;
  const received: Received[] = [];

  beforeAll(async () => {
    const port = await freePort();
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString('utf8');
      });
      req.on('end', () => {
        const parsed = webhook.safeParse(JSON.parse(raw));
        if (parsed.success) received.push({ authorization: req.headers.authorization, body: parsed.data });
        res.writeHead(parsed.success ? 200 : 400).end();
      });
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    alertmanager = await startAlertmanager({
      configYaml: [
        'route:',
        '  receiver: probe',
        "  group_by: ['alertname']",
        '  group_wait: 0s',
        '  group_interval: 1s',
        '  repeat_interval: 1h',
        'receivers:',
        '  - name: probe',
        '    webhook_configs:',
        `      - url: http://127.0.0.1:${port}/hook`,
        '        send_resolved: true',
        '        http_config:',
        '          authorization:',
        '            credentials: harness-secret',
        '',
      ].join('\n'),
    });
  }, 60_000);

  afterAll(async () => {
    await alertmanager?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }, 30_000);

  it('delivers a fired alert to the webhook receiver as a v4 payload with the bearer token', async () => {
    if (!alertmanager) throw new Error('alertmanager did not start');
    await alertmanager.fire([
      {
        labels: { alertname: 'HarnessProbe', service: 'probe' },
        annotations: { summary: 'from the harness test' },
      },
    ]);
    const deadline = Date.now() + 30_000;
    while (!received.some((r) => r.body.alerts.some((a) => a.labels.alertname === 'HarnessProbe'))) {
      if (Date.now() > deadline)
        throw new Error(`no webhook within 30 s; alertmanager said:\n${alertmanager.logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const delivery = received.find((r) => r.body.alerts.some((a) => a.labels.alertname === 'HarnessProbe'));
    expect(delivery?.body.version).toBe('4');
    expect(delivery?.body.status).toBe('firing');
    expect(delivery?.authorization).toBe('Bearer harness-secret');
    expect(delivery?.body.alerts[0]?.labels).toEqual({ alertname: 'HarnessProbe', service: 'probe' });
  }, 45_000);

  it('stops and removes its temp dir', async () => {
    if (!alertmanager) throw new Error('alertmanager did not start');
    const pids = processesMentioning(`--web.listen-address=127.0.0.1:${alertmanager.port}`);
    expect(pids.length).toBe(1);
    await alertmanager.stop();
    expect(processesMentioning(`--web.listen-address=127.0.0.1:${alertmanager.port}`)).toEqual([]);
    expect(existsSync(alertmanager.dir)).toBe(false);
    await expect(fetch(`${alertmanager.url}/-/ready`)).rejects.toThrow();
  }, 30_000);
});
