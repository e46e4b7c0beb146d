import type { Logger } from '../domain/log';

/**
 * Counts outcomes by kind and reason as CloudWatch Embedded Metric Format log lines: the
 * metrics come out of the logs, so no SDK call (and no IAM action) is needed to publish them.
 */
export function countOutcomes(
  log: Logger,
  fn: string,
  outcomes: ReadonlyArray<{ kind: string; reason?: string }>,
  now: () => number = Date.now,
): void {
  const counts = new Map<string, { kind: string; reason: string; count: number }>();
  for (const o of outcomes) {
    const reason = o.reason ?? 'none';
    const key = `${o.kind}/${reason}`;
    const entry = counts.get(key) ?? { kind: o.kind, reason, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  for (const { kind, reason, count } of counts.values()) {
    log.always({
      _aws: {
        Timestamp: now(),
        CloudWatchMetrics: [
          {
            Namespace: 'SwarmReflex',
            Dimensions: [['function', 'kind', 'reason']],
            Metrics: [{ Name: 'outcomes', Unit: 'Count' }],
          },
        ],
      },
      function: fn,
      kind,
      reason,
      outcomes: count,
    });
  }
}
