/**
 * A daemon run as a child process for a test (Prometheus, Alertmanager): its own temp dir with an owner
 * file, listening on a free loopback port, ready when a URL answers. stop() kills it and
 * removes the dir; if the test process dies first, an exit hook does, and a later run removes
 * what a crash left (a dir whose owner process is gone, and the processes naming it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from '../../local/exit-hooks';
import { kill, pidsMentioning, processStart, sleep } from '../../local/proc';
import { freePort } from './free-port';

export interface ChildDaemon {
  port: number;
  /** Temp dir holding its config and storage; gone after stop(). */
  dir: string;
  logs(): string;
  stop(): Promise<void>;
}

export interface ChildDaemonSpec {
  /** In messages: `prometheus`. */
  name: string;
  binary: string;
  /** Temp dirs are `<tmpdir>/<dirPrefix>XXXXXX`; leftovers are found by it. */
  dirPrefix: string;
  /** Writes the config files into `dir` and returns the arguments. */
  prepare(dir: string, port: number): string[];
  /** Answers 2xx once the daemon is ready. */
  readyPath: string;
  readyTimeoutMs: number;
}

const MAX_LOG_CHARS = 200_000;
const STOP_GRACE_MS = 3_000;

/** Starts it on a free port, trying another port when the one picked was taken meanwhile. */
export async function startChildDaemon(spec: ChildDaemonSpec): Promise<ChildDaemon> {
  removeLeftovers(spec.dirPrefix);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(spec, await freePort());
    } catch (err) {
      const taken = err instanceof Error && /address already in use/i.test(err.message);
      if (!taken || attempt === 3) throw err;
    }
  }
}

async function startOnce(spec: ChildDaemonSpec, port: number): Promise<ChildDaemon> {
  const dir = mkdtempSync(join(tmpdir(), spec.dirPrefix));
  writeFileSync(join(dir, 'owner'), `${process.pid} ${processStart(process.pid) ?? ''}`);
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  let args: string[];
  try {
    args = spec.prepare(dir, port);
  } catch (err) {
    removeDir();
    throw err;
  }

  let output = '';
  const child: ChildProcess = spawn(spec.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = `could not start: ${err.message}`;
      resolve();
    });
  });
  const unregister = onProcessExit(() => {
    if (exited === undefined) child.kill('SIGKILL');
    removeDir();
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      unregister();
      if (exited === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await gone;
        clearTimeout(timer);
      }
      removeDir();
    })();
    return stopping;
  };

  const tail = (): string => output.trimEnd().split('\n').slice(-30).join('\n');
  const readyUrl = `http://127.0.0.1:${port}${spec.readyPath}`;
  const deadline = Date.now() + spec.readyTimeoutMs;
  while (!(await answers(readyUrl))) {
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited ?? `was not ready at ${readyUrl} within ${spec.readyTimeoutMs} ms`;
      await stop();
      throw new Error(`${spec.name} ${why}; its output:\n${tail()}`);
    }
    await sleep(100);
  }
  return { port, dir, logs: () => output, stop };
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

/** Kills the daemons, and removes the dirs, of earlier runs whose test process is gone. */
function removeLeftovers(dirPrefix: string): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((name) => name.startsWith(dirPrefix));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    let owner: string;
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
