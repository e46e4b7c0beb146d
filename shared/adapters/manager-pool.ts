import type Docker from 'dockerode';
import { DependencyUnavailableError, QuorumLostError } from '../domain/errors';
import { invocationDeadline, noteManager } from '../domain/invocation';
import { dockerErrorMessage } from './docker';

/**
 * Every way the functions reach the swarm: any manager will do. The endpoints are tried in
 * order — DOCKER_HOST, then SWARM_MANAGERS, then the manager addresses sync-join-tokens keeps
 * in SSM — and the first one that answers serves the request. A manager that refuses, times
 * out, answers 5xx, is not a manager, or sees no leader (its own view: it may sit in a
 * minority partition) is skipped for this request. The one that answered is tried first on
 * the container's next requests, so the warm path stays one hop; the leader (when a node list
 * named it) comes next, before the configured order, but is never required.
 */
export interface ManagerPool {
  /** Runs `op` against the managers in turn until one answers; its answer (or its real error) is the result. */
  run<T>(op: (docker: Docker) => Promise<T>): Promise<T>;
  /** The endpoint that answered last: named in logs and outcomes. */
  readonly current: string | undefined;
  /** The node list named this leader address (host:port of its swarm address): try its endpoint first. */
  preferLeader(leaderAddr: string): void;
}

/** A way to reach the swarm: one client (tests, scripts), or the pool. */
export type DockerSource = (() => Promise<Docker>) | ManagerPool;

/** Runs `op` on the swarm through `source`. */
export function onDocker<T>(source: DockerSource, op: (docker: Docker) => Promise<T>): Promise<T> {
  return typeof source === 'function' ? source().then(op) : source.run(op);
}

type Skip = 'no-answer' | 'no-leader' | 'not-manager';

/** Why this manager cannot serve the request — undefined when its answer is the swarm's answer. */
export function skipReason(error: unknown): Skip | undefined {
  const e = (error ?? {}) as { statusCode?: number };
  const message = dockerErrorMessage(error);
  // A version conflict is an answer about the object, from a working manager.
  if (/update out of sequence/i.test(message)) return undefined;
  if (/does not have a leader|too few managers are online/i.test(message)) return 'no-leader';
  if (/not a swarm manager|this node is not part of a swarm/i.test(message)) return 'not-manager';
  if (e.statusCode === undefined || e.statusCode >= 500) return 'no-answer';
  return undefined;
}

export interface ManagerPoolOptions {
  /** The endpoints to try, in order (`unix:///…` or `tcp://host:port`); read anew for each request. */
  endpoints: () => Promise<readonly string[]>;
  /** The client for one endpoint (created once per endpoint and TLS material by the caller). */
  client: (endpoint: string) => Promise<Docker>;
  now?: () => number;
  /** No further endpoint is tried after this time (epoch ms); the invocation's deadline unless given. */
  deadline?: () => number | undefined;
  sleep?: (ms: number) => Promise<void>;
  /** How long to wait before asking again when the managers that answered saw no leader. */
  electionWaitMs?: number;
}

/** A leader election in swarmkit takes a few seconds; longer, and quorum is likely lost. */
export const ELECTION_WAIT_MS = 3_000;

type Skipped = { endpoint: string; why: Skip; detail: string };

export function createManagerPool(options: ManagerPoolOptions): ManagerPool {
  const now = options.now ?? Date.now;
  let preferred: string | undefined;
  let leaderHost: string | undefined;
  const deadline = options.deadline ?? invocationDeadline;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const answered = (endpoint: string) => {
    preferred = endpoint;
    pool.current = endpoint;
    noteManager(endpoint);
  };
  const pool: ManagerPool & { current: string | undefined } = {
    current: undefined,
    preferLeader(leaderAddr) {
      leaderHost = hostOf(leaderAddr);
    },
    async run(op) {
      const endpoints = order(await options.endpoints(), preferred, leaderHost);
      let skipped: Skipped[] = [];
      for (let round = 1; ; round++) {
        skipped = [];
        for (const endpoint of endpoints) {
          const until = deadline();
          if (until !== undefined && now() >= until) break;
          let result: Awaited<ReturnType<typeof op>>;
          try {
            result = await withinDeadline(op(await options.client(endpoint)), until, now);
          } catch (error) {
            const why = skipReason(error);
            if (why === undefined) {
              // This manager answered (a 404, a conflict, a refusal): that is the swarm's answer.
              answered(endpoint);
              throw error;
            }
            skipped.push({ endpoint, why, detail: short(dockerErrorMessage(error)) });
            continue;
          }
          answered(endpoint);
          return result;
        }
        // "No leader" may be an election under way (a few seconds): ask once more before saying
        // the swarm lost quorum — a person is then told to run a dangerous command.
        const until = deadline();
        const wait = options.electionWaitMs ?? ELECTION_WAIT_MS;
        const again =
          round === 1 &&
          skipped.some((k) => k.why === 'no-leader') &&
          (until === undefined || now() + wait < until);
        if (!again) break;
        await sleep(wait);
      }
      throw exhausted(endpoints, skipped);
    },
  };
  return pool;
}

/** A manager that has not answered by the deadline is one that does not answer (the request may still land: writes are versioned). */
async function withinDeadline<T>(work: Promise<T>, until: number | undefined, now: () => number): Promise<T> {
  if (until === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('no answer before the invocation deadline')),
      Math.max(0, until - now()),
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The endpoint that answered last first (one hop when warm), then the leader's, then the configured order. */
function order(endpoints: readonly string[], preferred: string | undefined, leaderHost: string | undefined) {
  const unique = [...new Set(endpoints)];
  const first = preferred && unique.includes(preferred) ? [preferred] : [];
  const leader = unique.filter(
    (e) => !first.includes(e) && leaderHost !== undefined && hostOf(e) === leaderHost,
  );
  return [...first, ...leader, ...unique.filter((e) => !first.includes(e) && !leader.includes(e))];
}

function hostOf(address: string): string {
  const withoutScheme = address.replace(/^[a-z]+:\/\//, '');
  const host = withoutScheme.startsWith('[')
    ? withoutScheme.slice(0, withoutScheme.indexOf(']') + 1)
    : withoutScheme.split(':')[0];
  return host ?? '';
}

/**
 * No manager served the request. When the ones that answered all see no leader, that is a
 * lost quorum as far as any reachable manager can tell — say who answered and who did not,
 * because on the far side of a partition the majority may be working.
 */
function exhausted(endpoints: readonly string[], skipped: readonly Skipped[]): Error {
  const tried = new Set(skipped.map((s) => s.endpoint));
  const untried = endpoints.filter((e) => !tried.has(e));
  const list = [
    ...skipped.map((s) => `${s.endpoint}: ${s.why === 'no-answer' ? `no answer (${s.detail})` : s.why}`),
    ...untried.map((e) => `${e}: not tried (deadline)`),
  ].join('; ');
  if (endpoints.length === 0) {
    return new DependencyUnavailableError(
      'docker',
      'no Docker endpoint is configured (DOCKER_HOST, SWARM_MANAGERS)',
    );
  }
  if (skipped.some((s) => s.why === 'no-leader')) {
    return new QuorumLostError(`no reachable manager sees a leader (${list})`);
  }
  return new DependencyUnavailableError('docker', `no swarm manager answered (${list})`);
}

function short(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 120)}…` : oneLine;
}
