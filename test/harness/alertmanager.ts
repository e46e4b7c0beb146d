/**
 * A real Alertmanager on 127.0.0.1 for integration tests and `npm start`: clustering off,
 * storage and config in a temp dir, the config given by the caller.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from '../../local/exit-hooks';
import { kill, pidsMentioning, processStart } from '../../local/proc';
import { freePort } from './free-port';

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

const MAX_LOG_CHARS = 200_000;
const DIR_PREFIX = 'srxam-';

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
  cleanupAlertmanagerLeftovers();
  // The port was free a moment ago; another process can take it first, so retry a few times.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts, await freePort());
    } catch (err) {
      lastError = err;
      if (!(err instanceof Error) || !/address already in use/i.test(err.message)) throw err;
    }
  }
  throw lastError;
}

async function startOnce(opts: StartAlertmanagerOptions, port: number): Promise<TestAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, 'owner'), `${process.pid} ${processStart(process.pid) ?? ''}`);
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, opts.configYaml);
  const url = `http://127.0.0.1:${port}`;

  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  };
  const child: ChildProcess = spawn(
    ALERTMANAGER_BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=',
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = `could not start: ${err.message}`;
      resolve();
    });
  });

  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  const unregister = onProcessExit(() => {
    if (exited === undefined) child.kill('SIGKILL');
    removeDir();
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      unregister();
      if (exited === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exitedPromise;
        clearTimeout(timer);
      }
      removeDir();
    })();
    return stopped;
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`alertmanager ${exited}; its output:\n${lastLines(output, 30)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `alertmanager was not ready at ${url}/-/ready in time; its output:\n${lastLines(output, 30)}`,
      );
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    port,
    dir,
    logs: () => output,
    stop,
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

/** Kills Alertmanagers, and removes their temp dirs, of earlier runs whose process is gone. */
export function cleanupAlertmanagerLeftovers(): void {
  let names: string[] = [];
  try {
    names = readdirSync(tmpdir()).filter((name) => name.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    let owner = '';
    try {
      owner = readFileSync(join(dir, 'owner'), 'utf8');
    } catch {
      continue; // being created right now, or not ours
    }
    const [pid, start] = owner.split(' ');
    if (processStart(Number(pid)) === start) continue;
    for (const stray of pidsMentioning(`${dir}/`)) kill(stray, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function lastLines(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
