import * as z from 'zod';
import { ValidationError } from './errors';
import { quote } from './names';

/**
 * The Alertmanager webhook payload, version 4. Objects are loose: newer Alertmanagers add
 * fields, and an unknown field must not make us drop an alert. Sizes are bounded so that a
 * hostile payload costs little to reject.
 */
const labelSet = z
  .record(z.string().max(256), z.string().max(8_192))
  .refine((r) => Object.keys(r).length <= 128, 'has more than 128 entries');
const annotationSet = z
  .record(z.string().max(256), z.string().max(65_536))
  .refine((r) => Object.keys(r).length <= 128, 'has more than 128 entries');
const status = z.enum(['firing', 'resolved']);

export const alertmanagerAlert = z.looseObject({
  status,
  labels: labelSet,
  annotations: annotationSet.default({}),
  startsAt: z.string().max(64).optional(),
  endsAt: z.string().max(64).optional(),
  generatorURL: z.string().max(4_096).optional(),
  fingerprint: z.string().max(64).optional(),
});
export type AlertmanagerAlert = z.infer<typeof alertmanagerAlert>;

export const alertmanagerWebhook = z.looseObject({
  version: z.literal('4', { error: 'must be "4" (the Alertmanager webhook format)' }),
  groupKey: z.string().max(8_192).default(''),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status,
  receiver: z.string().max(1_024).default(''),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: annotationSet.default({}),
  externalURL: z.string().max(4_096).default(''),
  alerts: z.array(alertmanagerAlert).min(1, 'must hold at least one alert'),
});
export type AlertmanagerWebhook = z.infer<typeof alertmanagerWebhook>;

/**
 * Validates a parsed JSON value as a webhook. Throws only ValidationError, with a message
 * that says what is wrong, whatever the input.
 */
export function parseWebhook(value: unknown, maxAlerts: number): AlertmanagerWebhook {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('body is not an Alertmanager webhook: expected a JSON object');
  }
  // Count before validating each alert, so 100,000 alerts are refused without parsing them.
  const alerts = (value as { alerts?: unknown }).alerts;
  if (Array.isArray(alerts) && alerts.length > maxAlerts) {
    throw new ValidationError(
      `webhook holds ${alerts.length} alerts; the limit is ${maxAlerts} (set max_alerts in the Alertmanager receiver)`,
    );
  }
  const parsed = alertmanagerWebhook.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map(describeIssue);
    throw new ValidationError(`body is not an Alertmanager webhook: ${issues.join('; ')}`, issues);
  }
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
  return `${path || '(root)'}: ${issue.message}`;
}

/** A short stable reference to an alert for outcomes and logs. */
export function alertRef(alert: AlertmanagerAlert, index: number): string {
  return alert.fingerprint && /^[A-Za-z0-9]+$/.test(alert.fingerprint) ? alert.fingerprint : `#${index}`;
}

/** An alert a function does not act on, and why: the same shape in every function's outcomes. */
export interface IgnoredAlert<R extends string> {
  kind: 'ignored';
  alert: string;
  reason: R;
  detail: string;
}

/** What a function reads from one firing alert's labels: what it asks for, or why it is ignored. */
export type AlertReading<T, R extends string> = { read: T } | { ignore: R; detail: string };

/**
 * The one walk over a webhook's alerts. Each alert gets its alertRef; only a firing one is read
 * (resolved, or any status we do not know, is ignored as `resolved`: act on firing alerts only),
 * and a missing label set reads as an empty one. Both lists keep the alerts' order.
 */
export function readAlerts<T, R extends string>(
  webhook: Pick<AlertmanagerWebhook, 'alerts'>,
  readOne: (labels: Readonly<Record<string, string>>, ref: string) => AlertReading<T, R>,
): { read: T[]; ignored: Array<IgnoredAlert<R | 'resolved'>> } {
  const read: T[] = [];
  const ignored: Array<IgnoredAlert<R | 'resolved'>> = [];
  webhook.alerts.forEach((alert, index) => {
    const ref = alertRef(alert, index);
    const reading: AlertReading<T, R | 'resolved'> =
      alert.status === 'firing'
        ? readOne(alert.labels ?? {}, ref)
        : { ignore: 'resolved', detail: 'only firing alerts are acted on' };
    if ('ignore' in reading) {
      ignored.push({ kind: 'ignored', alert: ref, reason: reading.ignore, detail: reading.detail });
    } else {
      read.push(reading.read);
    }
  });
  return { read, ignored };
}

/**
 * The `scale` label as a function's own parser reads it, unless the URL's `scale` parameter
 * (`override`) stands in for it.
 */
export function readScaleLabel<S>(
  labels: Readonly<Record<string, string>>,
  parse: (word: string) => S | undefined,
  override: S | undefined,
): AlertReading<S, 'no-scale-label' | 'invalid-scale-label'> {
  if (override !== undefined) return { read: override };
  const word = labels.scale;
  if (word === undefined || word === '') {
    return { ignore: 'no-scale-label', detail: 'the alert has no scale label' };
  }
  const scale = parse(word);
  if (scale === undefined) {
    return {
      ignore: 'invalid-scale-label',
      detail: `scale label ${quote(word)} is not up, down or a non-zero signed integer`,
    };
  }
  return { read: scale };
}

/** `up`/`down` move by the function's step; a signed integer is that exact number. */
export type ScaleRequest = { kind: 'step'; direction: 'up' | 'down' } | { kind: 'delta'; delta: number };

/** Parses a scale word: `up`, `down`, or a non-zero signed integer of at most `maxDigits` digits (`1`, `-1`, `+2`). */
export function parseScaleWord(value: string, maxDigits: number): ScaleRequest | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'up' || v === 'down') return { kind: 'step', direction: v };
  if (!new RegExp(`^[+-]?\\d{1,${maxDigits}}$`).test(v)) return undefined;
  const delta = Number(v);
  return delta === 0 ? undefined : { kind: 'delta', delta };
}

export function countAlerts(alerts: readonly AlertmanagerAlert[]): { firing: number; resolved: number } {
  const firing = alerts.filter((a) => a.status === 'firing').length;
  return { firing, resolved: alerts.length - firing };
}
