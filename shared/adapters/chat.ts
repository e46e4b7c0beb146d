import { DependencyUnavailableError } from '../domain/errors';
import type { Logger } from '../domain/log';
import { type ChatTarget, type Notifier, slackMessage, webhookMessage } from '../domain/notice';

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
