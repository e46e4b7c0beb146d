/**
 * A real Prometheus (Debian's /usr/bin/prometheus, 2.42) on 127.0.0.1 for integration
 * tests: storage and config in a temp dir, the rules and scrape configs given by the caller,
 * scraping and evaluating every second, sending its alerts to the given Alertmanagers.
 */
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import * as z from 'zod';
import { type ChildDaemon, startChildDaemon } from './child-daemon';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

/** A scrape config as prometheus.yml spells it; `scrape_interval` defaults to the global one. */
export type ScrapeConfig = Record<string, unknown> & { job_name: string };

export interface StartPrometheusOptions {
  /** The text of one rule file, loaded as it is. */
  rules: string;
  /** `host:port` of each Alertmanager it sends alerts to. */
  alertmanagers: readonly string[];
  scrapeConfigs: readonly ScrapeConfig[];
  /** Scrape and rule evaluation interval (default 1 s). */
  intervalSeconds?: number;
  /** How long to wait for /-/ready (default 30 s). */
  readyTimeoutMs?: number;
}

const labels = z.record(z.string(), z.string());
const alertsAnswer = z.object({
  data: z.object({
    alerts: z.array(z.object({ labels, state: z.enum(['pending', 'firing', 'inactive']) })),
  }),
});
const rulesAnswer = z.object({
  data: z.object({
    groups: z.array(
      z.object({
        name: z.string(),
        rules: z.array(
          z.looseObject({
            name: z.string(),
            health: z.string(),
            lastError: z.string().optional(),
            duration: z.number().optional(),
          }),
        ),
      }),
    ),
  }),
});
const targetsAnswer = z.object({
  data: z.object({
    activeTargets: z.array(z.object({ labels, health: z.string(), lastError: z.string() })),
  }),
});

export type PrometheusAlert = z.infer<typeof alertsAnswer>['data']['alerts'][number];
export type PrometheusRule = z.infer<typeof rulesAnswer>['data']['groups'][number]['rules'][number];
export type PrometheusTarget = z.infer<typeof targetsAnswer>['data']['activeTargets'][number];

export interface TestPrometheus extends ChildDaemon {
  url: string;
  /** Pending and firing alerts, as /api/v1/alerts lists them. */
  alerts(): Promise<PrometheusAlert[]>;
  /** Every loaded rule with its health (`ok`, `err`, `unknown` before its first evaluation). */
  rules(): Promise<PrometheusRule[]>;
  targets(): Promise<PrometheusTarget[]>;
}

/** Undefined when a real Prometheus can run here; otherwise why not, in one line. */
export function prometheusUnavailableReason(): string | undefined {
  try {
    accessSync(PROMETHEUS_BINARY, constants.X_OK);
    return undefined;
  } catch {
    return `missing ${PROMETHEUS_BINARY} (apt-get install prometheus)`;
  }
}

export async function startPrometheus(opts: StartPrometheusOptions): Promise<TestPrometheus> {
  const reason = prometheusUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start Prometheus: ${reason}`);
  const interval = `${opts.intervalSeconds ?? 1}s`;
  const daemon = await startChildDaemon({
    name: 'prometheus',
    binary: PROMETHEUS_BINARY,
    dirPrefix: 'srxprom-',
    readyPath: '/-/ready',
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    prepare(dir, port) {
      const rulesFile = join(dir, 'rules.yml');
      const configFile = join(dir, 'prometheus.yml');
      writeFileSync(rulesFile, opts.rules);
      const config = {
        global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
        rule_files: [rulesFile],
        alerting: {
          alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: [...opts.alertmanagers] }] }],
        },
        scrape_configs: opts.scrapeConfigs,
      };
      writeFileSync(configFile, stringify(config));
      return [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=http://127.0.0.1:${port}`,
        '--log.level=debug',
      ];
    },
  });
  const url = `http://127.0.0.1:${daemon.port}`;
  const api = async <T>(path: string, schema: z.ZodType<T>): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`prometheus ${path} answered ${response.status}`);
    return schema.parse(await response.json());
  };
  return {
    ...daemon,
    url,
    alerts: async () => (await api('/api/v1/alerts', alertsAnswer)).data.alerts,
    rules: async () => (await api('/api/v1/rules', rulesAnswer)).data.groups.flatMap((g) => g.rules),
    targets: async () => (await api('/api/v1/targets', targetsAnswer)).data.activeTargets,
  };
}
