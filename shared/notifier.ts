import { DependencyUnavailableError } from './errors';
import type { Logger } from './logger';

/**
 * Chat messages for people: every action a function takes and every refusal that needs a
 * human. Targets are Slack incoming webhooks and generic JSON webhooks. A failed delivery
 * never fails a remediation: `notify` logs and counts it and returns what happened.
 */
export type Severity = 'info' | 'warning' | 'critical';

export interface Notice {
  severity: Severity;
  /** One line: what happened, to what. */
  title: string;
  /** Details, and for refusals what a person should do. Plain text. */
  text: string;
  fields?: Record<string, string>;
}

export interface ChatTarget {
  kind: 'slack' | 'webhook';
  url: string;
}

export interface Notifier {
  notify(notice: Notice): Promise<{ delivered: number; failed: number }>;
}

export const SLACK_SECTION_LIMIT = 3_000;
const colours: Record<Severity, string> = { info: '#2eb67d', warning: '#ecb22e', critical: '#e01e5a' };

/** Slack treats &, < and > as control characters in mrkdwn; everything else is shown as is. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = [...text.slice(0, max - 1)].join('');
  return `${cut.replace(/[\uD800-\uDBFF]$/, '')}…`;
}

export function slackMessage(source: string, notice: Notice): unknown {
  const fields = Object.entries(notice.fields ?? {}).slice(0, 10);
  const header = `${notice.severity === 'critical' ? ':rotating_light: ' : ''}*${escapeSlack(truncate(notice.title, 300))}*`;
  return {
    text: truncate(`[${notice.severity.toUpperCase()}] ${notice.title}`, 300),
    attachments: [
      {
        color: colours[notice.severity],
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: truncate(`${header}\n${escapeSlack(notice.text)}`, SLACK_SECTION_LIMIT),
            },
          },
          ...(fields.length > 0
            ? [
                {
                  type: 'section',
                  fields: fields.map(([k, v]) => ({
                    type: 'mrkdwn',
                    text: truncate(`*${escapeSlack(k)}*\n${escapeSlack(v)}`, 2_000),
                  })),
                },
              ]
            : []),
          { type: 'context', elements: [{ type: 'mrkdwn', text: `swarm-reflex · ${escapeSlack(source)}` }] },
        ],
      },
    ],
  };
}

export function webhookMessage(source: string, notice: Notice, now: Date): unknown {
  return { source: 'swarm-reflex', function: source, time: now.toISOString(), ...notice };
}

/** POSTs JSON; throws DependencyUnavailableError on a network error, a timeout or a non-2xx answer. */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    throw new DependencyUnavailableError('chat', `chat webhook unreachable (${(error as Error).name})`, {
      cause: error,
    });
  }
  // Drain the body so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new DependencyUnavailableError('chat', `chat webhook answered ${response.status}`);
}

export function createNotifier(options: {
  source: string;
  targets: () => Promise<readonly ChatTarget[]>;
  timeoutMs: number;
  log: Logger;
  now?: () => Date;
}): Notifier {
  const now = options.now ?? (() => new Date());
  return {
    async notify(notice) {
      let targets: readonly ChatTarget[];
      try {
        targets = await options.targets();
      } catch (error) {
        options.log.error('chat targets unavailable', { error, notice: notice.title });
        return { delivered: 0, failed: 1 };
      }
      const results = await Promise.allSettled(
        targets.map((t) =>
          postJson(
            t.url,
            t.kind === 'slack'
              ? slackMessage(options.source, notice)
              : webhookMessage(options.source, notice, now()),
            options.timeoutMs,
          ),
        ),
      );
      const failed = results.filter((r) => r.status === 'rejected');
      for (const f of failed) {
        options.log.error('chat delivery failed', {
          error: (f as PromiseRejectedResult).reason,
          notice: notice.title,
        });
      }
      options.log.always({
        metric: 'notifications',
        delivered: results.length - failed.length,
        failed: failed.length,
      });
      return { delivered: results.length - failed.length, failed: failed.length };
    },
  };
}
