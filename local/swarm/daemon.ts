/**
 * A node's dockerd: in the node's network namespace (and a UTS namespace of its own, for its
 * hostname), with its own socket, data root, exec root and cgroup parent under the node's dir.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../proc';
import { DAEMON_PATH, NETNS_DIR } from './names';
import type { NodeRuntime } from './types';

/** Starts the node's dockerd (the swarm's k-th bridge index picks its docker0 range) and waits until it answers. */
export async function startDaemon(
  runtime: NodeRuntime,
  engineLabels: Record<string, string>,
  k: number,
): Promise<void> {
  const { dir, node } = runtime;
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'dockerd.log');
  const pidfile = node.pidFile;
  // An explicit --config-file keeps the host's /etc/docker/daemon.json out, and labels live
  // in it rather than in `--label` flags: dockerd refuses a SIGHUP reload of a key that is
  // set both ways, and the node bootstrap adds its label by reloading.
  const labels = Object.entries(engineLabels).map(([key, value]) => `${key}=${value}`);
  writeFileSync(node.configFile, `${JSON.stringify(labels.length > 0 ? { labels } : {}, null, 2)}\n`);
  const logFd = openSync(logPath, 'a');
  const dockerdArgs = [
    '--host',
    node.dockerHost,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    pidfile,
    '--bip',
    `172.30.${k}.1/24`,
    '--cgroup-parent',
    `/${runtime.cgroup}`,
    '--userland-proxy=false',
    '--config-file',
    node.configFile,
  ];
  // nsenter, not `ip netns exec`: the latter remounts /sys and dockerd then finds no devices cgroup.
  const child = spawn(
    'nsenter',
    [
      `--net=${join(NETNS_DIR, runtime.netns)}`,
      '--',
      'unshare',
      '--uts',
      '--',
      'sh',
      '-c',
      'hostname "$0" && exec dockerd "$@"',
      node.name,
      ...dockerdArgs,
    ],
    {
      stdio: ['ignore', logFd, logFd],
      detached: true,
      // Swarm tasks pull their image unless this is set; we have no registry, the image is local.
      env: { PATH: DAEMON_PATH, HOME: '/root', DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
    },
  );
  closeSync(logFd);
  child.unref();
  runtime.child = child;
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    if (runtime.node.pid === child.pid) runtime.node.pid = 0;
  });
  child.once('error', (err) => {
    exited = `could not start: ${err.message}`;
  });
  runtime.node.pid = child.pid ?? 0;

  const fail = (why: string): Error =>
    new Error(`dockerd of ${node.name} ${why}; last lines of ${logPath}:\n${tail(logPath, 30)}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) throw fail(exited);
    if (Date.now() > deadline) throw fail('did not answer on its socket within 60 s');
    try {
      await runtime.client.ping();
      break;
    } catch {
      await sleep(100);
    }
  }
  const pidFromFile = Number(safeRead(pidfile).trim());
  if (pidFromFile > 0 && pidFromFile !== child.pid) runtime.node.pid = pidFromFile;
}

/** The engine labels in the node's daemon.json now (the bootstrap may have added some since the start). */
export function readEngineLabels(configFile: string): Record<string, string> {
  const written = JSON.parse(safeRead(configFile) || '{}') as { labels?: string[] };
  return Object.fromEntries(
    (written.labels ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(path: string, lines: number): string {
  return safeRead(path).trimEnd().split('\n').slice(-lines).join('\n');
}
