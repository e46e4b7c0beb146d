import type { ParameterStore } from '../domain/cloud';
import { QuorumLostError } from '../domain/errors';
import { PAUSE_LABEL, PAUSE_TTL_MS, type Pause, type PauseReader, readPause } from '../domain/pause';
import type { SwarmNodes } from '../domain/swarm';

/** The pause in force, if any (the SSM parameter's or the swarm label's, the older first). */
export type PauseSwitch = PauseReader;

/**
 * Reads the pause from where it may be set — the SSM parameter (deployed) and the swarm's
 * label (on-prem) — at most once per PAUSE_TTL_MS per container. A failed read is retried at
 * the next call and fails this one (a 503, a failed invocation): not knowing whether a person
 * said stop is no licence to act.
 */
export function createPauseSwitch(options: {
  parameters?: { store: Pick<ParameterStore, 'get'>; name: string };
  swarm?: Pick<SwarmNodes, 'inspectSwarm'>;
  ttlMs?: number;
  now?: () => number;
}): PauseSwitch {
  const ttl = options.ttlMs ?? PAUSE_TTL_MS;
  const now = options.now ?? Date.now;
  let cached: { at: number; pause: Pause | undefined } | undefined;
  const fromSsm = async () => {
    if (!options.parameters) return undefined;
    const { store, name } = options.parameters;
    return readPause((await store.get([name])).get(name)?.value, 'ssm');
  };
  // A swarm without a leader cannot say whether it is paused, and cannot be changed either:
  // the call goes on to find that out (and say so: replace-node's quorum-lost message), and
  // nothing is cached, so the label is read again as soon as a leader answers.
  const fromSwarm = async (): Promise<Pause | 'leaderless' | undefined> => {
    if (!options.swarm) return undefined;
    try {
      return readPause((await options.swarm.inspectSwarm()).labels[PAUSE_LABEL], 'swarm');
    } catch (error) {
      if (error instanceof QuorumLostError) return 'leaderless';
      throw error;
    }
  };
  return {
    async read() {
      if (cached && now() - cached.at < ttl) return cached.pause;
      const [ssm, swarm] = await Promise.all([fromSsm(), fromSwarm()]);
      const found = [ssm, swarm].filter((p): p is Pause => p !== undefined && p !== 'leaderless');
      const pause = found.sort((a, b) => a.since.getTime() - b.since.getTime())[0];
      cached = swarm === 'leaderless' && pause === undefined ? undefined : { at: now(), pause };
      return pause;
    },
  };
}
