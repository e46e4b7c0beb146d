import * as z from 'zod';
import { ValidationError } from './errors';

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
