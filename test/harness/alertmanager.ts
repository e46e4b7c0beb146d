/**
 * A real Alertmanager on 127.0.0.1 for integration tests: clustering off, storage and config
 * in a temp dir (test/harness/child-daemon.ts: its port, its dir, its cleanup), the config given
 * by the caller.
 */
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChildDaemon } from './child-daemon';

export const ALERTMANAGER_BINARY = '/usr/bin/prometheus-alertmanager';

export interface FiredAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

export interface TestAlertmanager {
  url: string;
  port: number;
  /** Temp dir with the config, storage; gone after stop(). */
  dir: string;
  fire(alerts: FiredAlert[]): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

export interface StartAlertmanagerOptions {
  configYaml: string;
  /** How long to wait for /-/ready (default 30 s). */
  readyTimeoutMs?: number;
}

/** Undefined when a real Alertmanager can run here; otherwise why not, in one line. */
export function alertmanagerUnavailableReason(): string | undefined {
  try {
    accessSync(ALERTMANAGER_BINARY, constants.X_OK);
    return undefined;
  } catch {
    return `missing ${ALERTMANAGER_BINARY} (apt-get install prometheus-alertmanager)`;
  }
}

export async function startAlertmanager(opts: StartAlertmanagerOptions): Promise<TestAlertmanager> {
  const reason = alertmanagerUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start Alertmanager: ${reason}`);
  const daemon = await startChildDaemon({
    name: 'alertmanager',
    binary: ALERTMANAGER_BINARY,
    dirPrefix: 'srxam-',
    readyPath: '/-/ready',
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    prepare(dir, port) {
      const configFile = join(dir, 'alertmanager.yml');
      writeFileSync(configFile, opts.configYaml);
      return [
        `--config.file=${configFile}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=http://127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=debug',
      ];
    },
  });
  const url = `http://127.0.0.1:${daemon.port}`;
  return {
    ...daemon,
    url,
    async fire(alerts: FiredAlert[]): Promise<void> {
      const response = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) {
        throw new Error(`alertmanager refused the alerts: ${response.status} ${await response.text()}`);
      }
    },
  };
}
