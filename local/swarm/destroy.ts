/** Destroying what one swarm created: its teardown, and the cleanup of a crashed run's leftovers. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, kill, pidsMentioning, sleepSync } from '../proc';
import { cgroupDirs, cgroupPids, removeCgroup } from './cgroups';
import { runQuiet } from './command';
import type { SwarmMeta } from './meta';
import { NETNS_DIR } from './names';
import { forwardRules, listLinks } from './netns';

const SHIM_SOCKET_DIR = '/run/containerd/s';

/**
 * Everything of the swarm in `dir` goes: processes, shim sockets, mounts, cgroups, and with
 * a meta also its veths, netns, bridge and FORWARD rule; then the dir itself.
 */
export function destroyResources(dir: string, meta: SwarmMeta | undefined): void {
  const cgroups = meta?.cgroups ?? [];
  killEverything(dir, cgroups);
  removeShimSockets(dir);
  unmountAll(dir);
  for (const cgroup of cgroups) for (const cgroupDir of cgroupDirs(cgroup)) removeCgroup(cgroupDir);
  if (meta) {
    const links = new Set(listLinks());
    // Deleting the host end takes the peer with it at once; deleting only the netns does so later.
    for (const veth of meta.veths) if (links.has(veth)) runQuiet('ip', ['link', 'del', veth]);
    for (const netns of meta.netns)
      if (existsSync(join(NETNS_DIR, netns))) runQuiet('ip', ['netns', 'del', netns]);
    if (links.has(meta.bridge)) runQuiet('ip', ['link', 'del', meta.bridge]);
    if (meta.rule.length > 0) {
      const wanted = meta.rule.join(' ');
      if (forwardRules().some((rule) => rule.join(' ') === wanted)) {
        runQuiet('iptables', ['-w', '-D', 'FORWARD', ...meta.rule]);
      }
    }
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch {
      unmountAll(dir);
      sleepSync(100);
    }
  }
}

/**
 * SIGKILLs every process of the swarm: daemons, containerd, shims (they name the swarm dir on
 * their command line) and containers (they live in the nodes' cgroups). Loops because a dying
 * swarm agent may still start a task container.
 */
function killEverything(dir: string, cgroups: string[]): void {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const pids = [...pidsMentioning(`${dir}/`), ...cgroups.flatMap(cgroupDirs).flatMap(cgroupPids)].filter(
      isAlive,
    );
    if (pids.length === 0) return;
    for (const pid of pids) kill(pid, 'SIGKILL');
    sleepSync(50);
  }
}

/** Shim sockets live outside the swarm dir, named by a hash of containerd address, namespace and task id. */
function removeShimSockets(dir: string): void {
  const execRoots = (() => {
    try {
      return readdirSync(dir).map((node) => join(dir, node, 'exec'));
    } catch {
      return [];
    }
  })();
  for (const execRoot of execRoots) {
    const tasks = join(execRoot, 'containerd', 'daemon', 'io.containerd.runtime.v2.task');
    let namespaces: string[] = [];
    try {
      namespaces = readdirSync(tasks);
    } catch {
      continue;
    }
    const address = join(execRoot, 'containerd', 'containerd.sock');
    for (const ns of namespaces) {
      let ids: string[] = [];
      try {
        ids = readdirSync(join(tasks, ns));
      } catch {
        continue;
      }
      for (const id of ids) {
        const hash = createHash('sha256')
          .update(join(address, ns, id))
          .digest('hex');
        rmSync(join(SHIM_SOCKET_DIR, hash), { force: true });
      }
    }
  }
}

function mountsUnder(dir: string): string[] {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decodeOctal = (path: string): string =>
    path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
  return info
    .split('\n')
    .map((line) => decodeOctal(line.split(' ')[4] ?? ''))
    .filter((mount) => mount === dir || mount.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function unmountAll(dir: string): void {
  for (let pass = 0; pass < 3; pass++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    // Lazy: a mount still held by a dying process must not stop the rest of the cleanup.
    runQuiet('umount', ['-l', ...mounts]);
  }
}
