/** The nodes' cgroups (`--cgroup-parent`): where their containers live, to find and kill them. */
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT } from './names';

/** Every directory of the cgroup `name` in every hierarchy (v1 controllers and v2). */
export function cgroupDirs(name: string): string[] {
  const dirs: string[] = [];
  const direct = join(CGROUP_ROOT, name);
  if (existsSync(direct)) dirs.push(direct);
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync(CGROUP_ROOT);
  } catch {
    return dirs;
  }
  for (const hierarchy of hierarchies) {
    const dir = join(CGROUP_ROOT, hierarchy, name);
    if (existsSync(dir)) dirs.push(dir);
  }
  return dirs;
}

export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (path: string): void => {
    try {
      for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim() !== '') pids.push(Number(line));
      }
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(path, entry.name));
      }
    } catch {
      // removed meanwhile
    }
  };
  walk(dir);
  return pids;
}

export function removeCgroup(dir: string): void {
  const walk = (path: string): void => {
    try {
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(path, entry.name));
      }
      rmdirSync(path);
    } catch {
      // still busy or gone; a later sweep retries
    }
  };
  walk(dir);
}
