import { type AlertmanagerWebhook, countAlerts } from '../../shared/domain/alerts';
import { DependencyUnavailableError } from '../../shared/domain/errors';
import type { Logger } from '../../shared/domain/log';
import type { ChatTarget } from '../../shared/domain/notice';
import { renderSlack, type SlackMessage } from './render-slack';
import { renderWebhook, type WebhookMessage } from './render-webhook';

/**
 * Turns one Alertmanager alert group into one chat message per target: a Slack Block Kit
 * message a person can read at a glance, and a compact JSON document for generic webhooks.
 * Unlike the remediations' notifier, a failed delivery fails the request (503) so that
 * Alertmanager retries; nothing is remembered, so a retry sends to every target again.
 */

export type NotifyOutcome =
  | {
      kind: 'delivered';
      targets: number;
      alerts: number;
      firing: number;
      resolved: number;
      truncatedAlerts?: number;
    }
  | { kind: 'skipped'; reason: 'no-targets'; alerts: number; detail: string }
  | {
      kind: 'skipped';
      reason: 'dry-run';
      alerts: number;
      detail: string;
      message: { slack: SlackMessage; webhook: WebhookMessage };
    };

export interface NotifyDeps {
  /** The configured chat targets (may read SSM, so may fail with a retryable error). */
  targets: () => Promise<readonly ChatTarget[]>;
  /** POSTs JSON; throws DependencyUnavailableError on a network error, a timeout or a non-2xx. */
  post: (url: string, body: unknown, timeoutMs: number) => Promise<void>;
  settings: { notifyTimeoutMs: number };
}

export interface NotifyInput {
  webhook: AlertmanagerWebhook;
  dryRun: boolean;
  log: Logger;
}

export const NO_TARGETS_DETAIL =
  'no chat target is configured: set SLACK_WEBHOOK_URL (or the SSM parameter <SETTINGS_PREFIX>/secrets/slack-webhook-url) or NOTIFY_WEBHOOK_URL; nothing was sent';

export async function notifyGroup(
  deps: NotifyDeps,
  input: NotifyInput,
): Promise<{ outcomes: [NotifyOutcome] }> {
  const { webhook, log } = input;
  const counts = countAlerts(webhook.alerts);
  const slack = renderSlack(webhook);
  const json = renderWebhook(webhook);
  if (input.dryRun) {
    return {
      outcomes: [
        {
          kind: 'skipped',
          reason: 'dry-run',
          alerts: webhook.alerts.length,
          detail: 'dry run: the rendered message is returned and nothing is sent',
          message: { slack, webhook: json },
        },
      ],
    };
  }
  const targets = await deps.targets();
  if (targets.length === 0) {
    log.warn('no chat target configured', { alerts: webhook.alerts.length });
    return {
      outcomes: [
        { kind: 'skipped', reason: 'no-targets', alerts: webhook.alerts.length, detail: NO_TARGETS_DETAIL },
      ],
    };
  }
  const results = await Promise.allSettled(
    targets.map((t) => deps.post(t.url, t.kind === 'slack' ? slack : json, deps.settings.notifyTimeoutMs)),
  );
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ target: targets[i]?.kind ?? 'unknown', error: r.reason as unknown }] : [],
  );
  for (const f of failures) log.error('chat delivery failed', { target: f.target, error: f.error });
  log.info('chat delivery', {
    audit: true,
    targets: targets.length,
    failed: failures.length,
    alerts: webhook.alerts.length,
    ...counts,
  });
  if (failures.length > 0) {
    // Never the URL: a Slack webhook URL is a secret.
    const why = failures.map((f) => `${f.target}: ${reasonOf(f.error)}`).join('; ');
    throw new DependencyUnavailableError(
      'chat',
      `${failures.length} of ${targets.length} chat targets failed (${why}); retry to send the message to every target again`,
      {
        cause: failures.length === 1 ? failures[0]?.error : new AggregateError(failures.map((f) => f.error)),
      },
    );
  }
  const truncated = webhook.truncatedAlerts ?? 0;
  return {
    outcomes: [
      {
        kind: 'delivered',
        targets: targets.length,
        alerts: webhook.alerts.length,
        ...counts,
        ...(truncated > 0 ? { truncatedAlerts: truncated } : {}),
      },
    ],
  };
}

function reasonOf(error: unknown): string {
  return error instanceof DependencyUnavailableError ? error.message : 'delivery failed';
}

// ---------------------------------------------------------------------------------------
// Generic JSON webhook

// ---------------------------------------------------------------------------------------
// Slack
