import type { AlertmanagerWebhook } from '../../shared/domain/alerts';

/** One alert group as a compact JSON document for generic webhooks. */
/** Alerts listed in the JSON message; the request is already bounded by MAX_ALERTS. */
export const WEBHOOK_ALERTS_CAP = 1_000;

export interface WebhookMessage {
  source: 'swarm-reflex';
  function: 'notify';
  status: 'firing' | 'resolved';
  groupKey: string;
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  /** Alerts of the group not in `alerts`: cut by Alertmanager (max_alerts) or by the cap. */
  truncatedAlerts: number;
  alerts: Array<{
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt?: string;
    endsAt?: string;
    generatorURL?: string;
    fingerprint?: string;
  }>;
}

export function renderWebhook(webhook: AlertmanagerWebhook): WebhookMessage {
  const alerts = webhook.alerts.slice(0, WEBHOOK_ALERTS_CAP).map((a) => ({
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    generatorURL: a.generatorURL,
    fingerprint: a.fingerprint,
  }));
  return {
    source: 'swarm-reflex',
    function: 'notify',
    status: webhook.status,
    groupKey: webhook.groupKey,
    receiver: webhook.receiver,
    groupLabels: webhook.groupLabels,
    commonLabels: webhook.commonLabels,
    commonAnnotations: webhook.commonAnnotations,
    externalURL: webhook.externalURL,
    truncatedAlerts: (webhook.truncatedAlerts ?? 0) + (webhook.alerts.length - alerts.length),
    alerts,
  };
}
