import * as z from 'zod';
import { type AlertReading, parseWebhook, readAlerts } from '../../shared/domain/alerts';
import { ValidationError } from '../../shared/domain/errors';
import { parseTarget, type Target } from './target';
import type { ReplaceNodeInput } from './types';

/** A direct invocation (the sweep, the console): `{ "node": "<id or hostname>" }` or `{ "instance": "i-…" }`. */
const directTarget = z.strictObject({
  node: z.string().max(253).optional(),
  instance: z.string().max(300).optional(),
});

/** What a request asks to replace: the targets, and the alerts that name none. */
export type ReplaceRequest = Omit<ReplaceNodeInput, 'dryRun' | 'log'>;

/** Reads an Alertmanager webhook or a direct invocation; ValidationError for anything else. */
export function parseReplaceRequest(
  payload: unknown,
  maxAlerts: number,
): { input: ReplaceRequest; logKeys?: Record<string, unknown> } {
  const isWebhook = typeof payload === 'object' && payload !== null && 'alerts' in payload;
  if (!isWebhook)
    return { input: { targets: [{ ref: 'direct', target: parseDirect(payload) }], ignored: [] } };
  const webhook = parseWebhook(payload, maxAlerts);
  const { read: targets, ignored } = readAlerts(webhook, readTargetAlert);
  return { input: { targets, ignored }, logKeys: { groupKey: webhook.groupKey, receiver: webhook.receiver } };
}

function parseDirect(payload: unknown): Target {
  const direct = directTarget.safeParse(payload);
  if (!direct.success || (direct.data.node === undefined) === (direct.data.instance === undefined)) {
    throw new ValidationError(
      'expected an Alertmanager webhook, or {"node": "<node ID or hostname>"} or {"instance": "<EC2 instance ID or host:port>"}',
    );
  }
  const target = parseTarget(direct.data);
  if (!target || 'invalid' in target)
    throw new ValidationError(
      `${target?.invalid ?? 'target'} is not a node ID, hostname, instance ID or address`,
    );
  return target;
}

/** The node an alert names by its `node` or `instance` label. */
function readTargetAlert(
  labels: Readonly<Record<string, string>>,
  ref: string,
): AlertReading<{ ref: string; target: Target }, 'no-target-label' | 'invalid-target-label'> {
  const target = parseTarget(labels);
  if (target === undefined)
    return { ignore: 'no-target-label', detail: 'the alert has no node or instance label' };
  if ('invalid' in target) {
    return {
      ignore: 'invalid-target-label',
      detail: `${target.invalid} is not a node ID, hostname, instance ID or address`,
    };
  }
  return { read: { ref, target } };
}
