/** The leftovers of crashed runs: found by the names a swarm gives things, spared while their owner lives. */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kill, pidsMentioning } from '../proc';
import { cgroupDirs, cgroupPids, removeCgroup } from './cgroups';
import { runQuiet } from './command';
import { destroyResources } from './destroy';
import { ownerAlive, readMeta } from './meta';
import { CGROUP_ROOT, IMAGE_DIR_PREFIX, PREFIX, SWARM_DIR_PREFIX } from './names';
import { forwardRules, listLinks, listNetns } from './netns';

/**
 * Removes what crashed earlier runs left behind: daemons, cgroups, mounts, netns, veths,
 * bridges, FORWARD rules and temp dirs named with our prefix whose owner process is gone.
 * Swarms of live processes (another test file running now) are left alone.
 */
export async function cleanupLeftovers(): Promise<void> {
  cleanupLeftoversSync();
}

export function cleanupLeftoversSync(): void {
  // Look at the system first and at the metas second: a swarm records each object in its
  // meta before creating it, so whatever we see here already has its owner on disk.
  const links = listLinks();
  const netnsNames = listNetns();
  const rules = forwardRules();
  const cgroupNames = new Set(
    [CGROUP_ROOT, ...safeReaddir(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h))]
      .flatMap(safeReaddir)
      .filter((name) => name.startsWith(SWARM_DIR_PREFIX)),
  );
  const tempDirs = safeReaddir(tmpdir())
    .filter((name) => new RegExp(`^${SWARM_DIR_PREFIX}[A-Za-z0-9]{6}$`).test(name))
    .map((name) => join(tmpdir(), name));
  for (const name of safeReaddir(tmpdir()).filter((n) =>
    new RegExp(`^${IMAGE_DIR_PREFIX}[A-Za-z0-9]{6}$`).test(n),
  )) {
    const dir = join(tmpdir(), name);
    if (ageMs(dir) > 60_000) rmSync(dir, { recursive: true, force: true });
  }

  const protectedNames = new Set<string>();
  for (const dir of tempDirs) {
    const meta = readMeta(dir);
    if (meta && ownerAlive(meta)) {
      for (const name of [meta.bridge, ...meta.netns, ...meta.veths, ...meta.cgroups, meta.rule.join(' ')]) {
        protectedNames.add(name);
      }
      continue;
    }
    if (!meta && ageMs(dir) < 60_000) continue; // being created right now, meta not written yet
    destroyResources(dir, meta);
  }

  const strays = pidsMentioning(join(tmpdir(), SWARM_DIR_PREFIX)).filter((pid) => {
    const owner = swarmDirOf(pid);
    return owner !== undefined && !existsSync(join(owner, 'meta.json'));
  });
  for (const pid of strays) kill(pid, 'SIGKILL');

  for (const cgroup of cgroupNames) {
    if (protectedNames.has(cgroup)) continue;
    for (const dir of cgroupDirs(cgroup)) {
      for (const pid of cgroupPids(dir)) kill(pid, 'SIGKILL');
      removeCgroup(dir);
    }
  }
  const ours = (name: string): boolean => new RegExp(`^${PREFIX}\\d+(br|v\\d+h)$`).test(name);
  for (const link of links)
    if (ours(link) && !protectedNames.has(link)) runQuiet('ip', ['link', 'del', link]);
  for (const netns of netnsNames) {
    if (new RegExp(`^${PREFIX}\\d+-`).test(netns) && !protectedNames.has(netns)) {
      runQuiet('ip', ['netns', 'del', netns]);
    }
  }
  for (const rule of rules) {
    const comment = rule[rule.indexOf('--comment') + 1] ?? '';
    if (
      rule.includes('--comment') &&
      comment.startsWith(SWARM_DIR_PREFIX) &&
      !protectedNames.has(rule.join(' '))
    ) {
      runQuiet('iptables', ['-w', '-D', 'FORWARD', ...rule]);
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function swarmDirOf(pid: number): string | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const match = new RegExp(`${escapeRegExp(join(tmpdir(), SWARM_DIR_PREFIX))}[A-Za-z0-9]{6}`).exec(cmdline);
    return match?.[0];
  } catch {
    return undefined;
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
