import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SERVICE_NAME } from '../adapters/logger';

/** Where the outcome counts go: CloudWatch namespace, metric name and dimensions (the dashboard reads these). */
export const OUTCOME_METRIC = {
  namespace: 'SwarmReflex',
  name: 'outcomes',
  dimensions: ['function', 'kind', 'reason'],
} as const;

let shared: Metrics | undefined;

/**
 * Counts outcomes by function, kind and reason with Powertools Metrics: CloudWatch Embedded
 * Metric Format lines on stdout, so no SDK call (and no IAM action) is needed to publish them.
 * Each (kind, reason) is one EMF line with exactly those three dimensions: Powertools' own
 * `service` dimension is cleared, so the metric keeps the identity alarms and dashboards use.
 */
export function countOutcomes(
  fn: string,
  outcomes: ReadonlyArray<{ kind: string; reason?: string }>,
  metrics: Metrics = outcomeMetrics(),
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
    const one = metrics.singleMetric();
    one.clearDefaultDimensions();
    one.addDimensions({ function: fn, kind, reason });
    one.addMetric(OUTCOME_METRIC.name, MetricUnit.Count, count);
  }
}

function outcomeMetrics(): Metrics {
  shared ??= new Metrics({ namespace: OUTCOME_METRIC.namespace, serviceName: SERVICE_NAME });
  return shared;
}
