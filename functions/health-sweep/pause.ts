import type { Logger } from '../../shared/domain/log';
import { type Pause, pausedOutcome } from '../../shared/domain/pause';
import type { HealthSweepDeps } from './context';
import type { Finding } from './findings';
import { errorText } from './wording';

/** The pause as this sweep read it: in force, unreadable (held all the same), or not in force (undefined). */
export type PauseRead = { pause: Pause } | { failed: unknown } | undefined;

/** Reads the pause; a failed read holds this sweep's actions (and says so) rather than failing the sweep. */
export async function readPauseOf(deps: Pick<HealthSweepDeps, 'pause'>, log: Logger): Promise<PauseRead> {
  if (!deps.pause) return undefined;
  try {
    const pause = await deps.pause.read();
    return pause ? { pause } : undefined;
  } catch (error) {
    log.error('reading the pause failed: this sweep reports and changes nothing', { error });
    return { failed: error };
  }
}

/**
 * The finding that says the sweep is held: who paused, why, since when. It is counted and
 * logged every minute while it lasts; no chat message (the person who paused knows, and a
 * message a minute would drown the others).
 */
export function pausedFinding(read: NonNullable<PauseRead>): Finding {
  const held =
    'down nodes, unfinished replacements, scale-ins, rebalances and stale join parameters are reported below; nothing is dispatched or changed';
  if ('failed' in read) {
    return {
      kind: 'paused',
      severity: 'warning',
      subject: 'pause',
      since: null,
      by: null,
      why: null,
      action: 'read-failed',
      detail: `whether the automation is paused could not be read (${errorText(read.failed)}): ${held}. The next sweep reads it again.`,
    };
  }
  const { pause } = read;
  return {
    kind: 'paused',
    severity: 'warning',
    subject: pause.source === 'ssm' ? 'ssm-parameter' : 'swarm-label',
    since: pause.since.toISOString(),
    by: pause.by,
    why: pause.reason,
    action: 'paused',
    detail: `${pausedOutcome(pause).detail.replace(/; nothing was changed$/, '')}: ${held}.`,
  };
}
