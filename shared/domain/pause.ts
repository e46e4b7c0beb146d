import * as z from 'zod';
import { VersionConflictError } from './errors';
import { PAUSE_LABEL } from './labels';
import type { SwarmNodes } from './swarm';

export { PAUSE_LABEL };

/**
 * The cluster-wide pause a person sets and clears in seconds, without a redeploy (an incident,
 * maintenance). Deployed, it is the SSM parameter `<SETTINGS_PREFIX>/pause`; on-prem, the label
 * PAUSE_LABEL on the swarm object. Either one pauses. While paused, every remediating
 * function answers `skipped: paused` and changes nothing; notify keeps delivering; the
 * sweep keeps reporting and says it is paused.
 */
export interface Pause {
  readonly since: Date;
  readonly by: string;
  readonly reason: string;
  /** Where it was read: the SSM parameter or the swarm's label. */
  readonly source: 'ssm' | 'swarm';
}

/** The port every function that honours the pause reads it through (shared/adapters/pause-switch). */
export interface PauseReader {
  /** The pause in force, if any. Rejects when it cannot be known (a failed read): never guess "not paused". */
  read(): Promise<Pause | undefined>;
}

/** How long a container keeps what it read: a pause takes effect within this (and the next call). */
export const PAUSE_TTL_MS = 30_000;

const pauseValue = z.strictObject({
  paused: z.boolean(),
  since: z.iso.datetime(),
  by: z.string().max(200),
  reason: z.string().max(1_000),
});

export type PauseRecord = z.output<typeof pauseValue>;

/** The stored value: `{"paused": true|false, "since", "by", "reason"}`; resuming keeps who resumed and when. */
export function formatPause(record: PauseRecord): string {
  return JSON.stringify(pauseValue.parse(record));
}

/**
 * A stored value read as a pause, or undefined when it says not paused. A value that is not
 * ours (hand-written, truncated) pauses: whoever wrote something there meant to stop us, and
 * the detail says what is wrong with it.
 */
export function readPause(value: string | undefined, source: Pause['source']): Pause | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    json = undefined;
  }
  const parsed = pauseValue.safeParse(json);
  if (!parsed.success) {
    return {
      since: new Date(0),
      by: 'unknown',
      reason: `unreadable pause value (${value.slice(0, 80)})`,
      source,
    };
  }
  if (!parsed.data.paused) return undefined;
  return { since: new Date(parsed.data.since), by: parsed.data.by, reason: parsed.data.reason, source };
}

/** What a paused function answers: who paused, why, since when, and where to resume. */
export function pausedOutcome(pause: Pause): { kind: 'skipped'; reason: 'paused'; detail: string } {
  const where =
    pause.source === 'ssm' ? 'the SSM parameter <SETTINGS_PREFIX>/pause' : `the swarm label ${PAUSE_LABEL}`;
  return {
    kind: 'skipped',
    reason: 'paused',
    detail: `paused by ${pause.by} since ${pause.since.toISOString()}: ${pause.reason} (${where}; npm run resume clears it); nothing was changed`,
  };
}

/**
 * Sets (a record) or removes (undefined) the pause label on the swarm object, in one versioned
 * swarm update; "update out of sequence" (someone else wrote the swarm meanwhile, e.g. a
 * replacement claim) re-reads and writes again, so neither write is lost.
 */
export async function writePauseLabel(
  swarm: Pick<SwarmNodes, 'inspectSwarm' | 'updateSwarm'>,
  record: PauseRecord | undefined,
  attempts = 5,
): Promise<void> {
  const value = record === undefined ? undefined : formatPause(record);
  for (let i = 1; ; i++) {
    const info = await swarm.inspectSwarm();
    if (value === undefined && !(PAUSE_LABEL in info.labels)) return;
    try {
      await swarm.updateSwarm(info, { labels: { [PAUSE_LABEL]: value } });
      return;
    } catch (error) {
      if (i >= attempts || !(error instanceof VersionConflictError)) throw error;
    }
  }
}
