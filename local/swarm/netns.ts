/**
 * The swarm's network: a per-swarm bridge in the root namespace, 10.88.<k>.0/24 with the
 * bridge on .1, and each node's veth on it, its peer `eth0` inside the node's own netns.
 * The nodes get no default route, so nothing they do can leave that subnet (registry
 * look-ups fail at once instead of timing out).
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { CommandError, readOutput, run } from './command';
import { type SwarmMeta, writeMeta } from './meta';
import { NETNS_DIR, PREFIX } from './names';
import type { NodeRuntime } from './types';

export function listLinks(): string[] {
  return readOutput('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter((name) => name !== '');
}

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

export function forwardRules(): string[][] {
  return readOutput('iptables', ['-w', '-S', 'FORWARD'])
    .split('\n')
    .filter((line) => line.startsWith('-A FORWARD '))
    .map((line) => line.split(' ').slice(2));
}

/** Takes the first free 10.88.<k>.0/24 for the swarm in `dir`: its bridge, and a FORWARD rule for it. */
export async function claimNetwork(
  dir: string,
  meta: SwarmMeta,
  log: (message: string) => void,
): Promise<void> {
  const taken = new Set(listLinks());
  for (let index = 1; index < 255; index++) {
    const bridge = `${PREFIX}${index}br`;
    if (taken.has(bridge)) continue;
    meta.index = index;
    meta.bridge = bridge;
    writeMeta(dir, meta);
    try {
      // Creating the bridge is the claim: of two swarms racing for an index, one gets EEXIST.
      await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    } catch (err) {
      if (err instanceof CommandError && /exists/i.test(err.stderr)) continue;
      throw err;
    }
    await run('ip', ['addr', 'add', `10.88.${index}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    const subnet = `10.88.${index}.0/24`;
    // br_netfilter sends bridged frames through FORWARD, which a host dockerd sets to DROP.
    meta.rule = ['-s', subnet, '-d', subnet, '-m', 'comment', '--comment', basename(dir), '-j', 'ACCEPT'];
    writeMeta(dir, meta);
    await run('iptables', ['-w', '-I', 'FORWARD', ...meta.rule]);
    log(`bridge ${bridge} on 10.88.${index}.1/24`);
    return;
  }
  throw new Error('no free 10.88.<k>.0/24 left for a test swarm (too many leftovers? see cleanupLeftovers)');
}

/** The node's netns, and its veth: host end on the bridge, peer `eth0` inside with the node's address. */
export async function createNodeNetwork(runtime: NodeRuntime, bridge: string): Promise<void> {
  const { netns, veth } = runtime;
  const peer = `${veth.slice(0, -1)}c`;
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer, 'netns', netns]);
  await run('ip', ['link', 'set', veth, 'master', bridge, 'up']);
  await run('ip', ['-n', netns, 'link', 'set', peer, 'name', 'eth0']);
  await run('ip', ['-n', netns, 'addr', 'add', `${runtime.node.address}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
}

/** The node's `eth0` down (cut off the swarm; its unix socket still answers) or up again. */
export async function setNodeLink(runtime: NodeRuntime, state: 'up' | 'down'): Promise<void> {
  await run('ip', ['-n', runtime.netns, 'link', 'set', 'eth0', state]);
}
