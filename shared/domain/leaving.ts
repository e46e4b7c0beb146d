import { LEAVING_CLAIM_LABEL, LEAVING_LABEL } from './labels';
import { CLAIM_EXPIRY_MS } from './scale-in';

/**
 * Why AWS is taking a node's instance (the node label `com.swarm-reflex.leaving`): an Auto
 * Scaling terminate hook, a Spot interruption, a rebalance recommendation, an AWS Health
 * scheduled change, or the instance shutting down. State on the node itself: a second
 * delivery of the same event reads it and changes nothing.
 */
export const LEAVING_CAUSES = ['terminate-hook', 'spot', 'rebalance', 'scheduled', 'state-change'] as const;
export type LeavingCause = (typeof LEAVING_CAUSES)[number];

/** A maintenance window (AWS Health): when it starts, and when it ends if AWS said. */
export interface Window {
  readonly start: Date;
  readonly end: Date | undefined;
}

export interface Leaving {
  readonly cause: LeavingCause;
  /** When we first heard of it (our clock): what the drain timeout counts from. */
  readonly since: Date;
  /** The Auto Scaling group (terminate-hook). */
  readonly group?: string;
  /** The maintenance window (scheduled). */
  readonly window?: Window;
}

/** The instance goes away for certain (its node is removed once down); the others are warnings. */
export function isDeparture(cause: LeavingCause): boolean {
  return cause === 'terminate-hook' || cause === 'spot' || cause === 'state-change';
}

/**
 * Whether a new cause replaces the one on the node: a departure replaces a warning (a Spot
 * interruption after a rebalance recommendation), never another departure (the first one
 * already drains it), and a cause never replaces itself (a second delivery).
 */
export function supersedes(next: LeavingCause, current: LeavingCause): boolean {
  return isDeparture(next) && !isDeparture(current);
}

export function formatLeaving(l: Leaving): string {
  const ref =
    l.cause === 'scheduled' && l.window
      ? `${l.window.start.toISOString()}/${l.window.end?.toISOString() ?? ''}`
      : l.group;
  return [l.cause, l.since.toISOString(), ...(ref ? [ref] : [])].join(' ');
}

const time = (text: string | undefined): Date | undefined => {
  const t = text === undefined || text === '' ? Number.NaN : Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t);
};

/** The node's leaving label; undefined without one or with one we cannot read (never acted on: fail closed). */
export function readLeaving(labels: Readonly<Record<string, string>>): Leaving | undefined {
  const value = labels[LEAVING_LABEL];
  if (value === undefined) return undefined;
  const [cause = '', since, ref] = value.split(' ');
  const known = (LEAVING_CAUSES as readonly string[]).includes(cause) ? (cause as LeavingCause) : undefined;
  const at = time(since);
  if (!known || !at) return undefined;
  if (known !== 'scheduled') return { cause: known, since: at, ...(ref ? { group: ref } : {}) };
  const [start, end] = (ref ?? '').split('/');
  const startAt = time(start);
  return { cause: known, since: at, ...(startAt ? { window: { start: startAt, end: time(end) } } : {}) };
}

/** Another caller is removing this node right now (its claim has not expired). */
export function leavingClaimed(labels: Readonly<Record<string, string>>, now: Date): boolean {
  const claimed = time(labels[LEAVING_CLAIM_LABEL]);
  return claimed !== undefined && now.getTime() - claimed.getTime() < CLAIM_EXPIRY_MS;
}
