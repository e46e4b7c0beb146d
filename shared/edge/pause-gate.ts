import type { Logger } from '../domain/log';
import { type Pause, pausedOutcome } from '../domain/pause';

/**
 * How an edge learns whether the cluster-wide pause is in force (the container's pause switch,
 * shared/adapters/pause-switch), or `false`: this function does not remediate and works on
 * while paused (notify, sync-join-tokens; health-sweep reads the pause itself and keeps
 * reporting). Required of every edge, so no function can forget to say which it is.
 */
export type PauseCheck = (() => Promise<Pause | undefined>) | false;

export type PausedOutcome = ReturnType<typeof pausedOutcome>;

/** What a paused function answers instead of acting: one outcome for the request, and the pause itself. */
export interface PausedAnswer {
  paused: { by: string; since: string; reason: string; source: Pause['source'] };
  outcomes: PausedOutcome[];
}

/**
 * Asks whether the pause is in force: the answer to give instead of acting when it is, else
 * undefined. Runs after authentication and validation (a malformed request is still a 400)
 * and before the domain reads or writes anything. A failed read rejects (503, a failed
 * invocation): not knowing whether a person said stop is no licence to act.
 */
export async function pausedAnswer<O = PausedOutcome>(
  check: PauseCheck | undefined,
  log: Logger,
  as: (pause: Pause) => O = pausedOutcome as (pause: Pause) => O,
): Promise<{ paused: PausedAnswer['paused']; outcomes: O[] } | undefined> {
  if (!check) return undefined;
  const pause = await check();
  if (pause === undefined) return undefined;
  const outcome = as(pause);
  log.info('decision', { audit: true, ...outcome, pausedBy: pause.by, pauseSource: pause.source });
  return {
    paused: { by: pause.by, since: pause.since.toISOString(), reason: pause.reason, source: pause.source },
    outcomes: [outcome],
  };
}

/** A scheduled function's pause: how to read it, and its own outcome that says so (`skipped: paused`). */
export interface ScheduledPause<O> {
  check: () => Promise<Pause | undefined>;
  outcome: (pause: Pause) => O;
}
