import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm start` (scripts/start.ts) run for real, as a child process, with a bad environment.
 * It can start no swarm here: DOCKER_HOST is a stand-in that answers `docker info` as a swarm
 * manager (so the script never looks for another engine), and, when the tests run as root,
 * the child runs as `nobody`, which the private-swarm harness refuses. Each run is bounded.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const RUN_LIMIT_MS = 30_000;
const NOBODY = 65_534;

interface Run {
  code: number | null;
  /** Killed by us: it was serving, or it ran past the limit. */
  killed: 'serving' | 'timeout' | undefined;
  stdout: string;
  stderr: string;
}

function runStart(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [TSX, 'scripts/start.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    const run: Run = { code: null, killed: undefined, stdout: '', stderr: '' };
    // Its whole process group (tsx runs the script in a child of its own).
    const stop = (why: Run['killed']) => {
      if (run.killed !== undefined || child.pid === undefined) return;
      run.killed = why;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => stop('timeout'), RUN_LIMIT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      run.stdout += chunk.toString();
      if (run.stdout.includes('Serving on')) stop('serving');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      run.stderr += chunk.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}

describe('npm start', () => {
  let dir: string;
  let manager: Server;
  let dockerHost: string;
  const asked: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srx-start-'));
    chmodSync(dir, 0o755);
    const socketPath = join(dir, 'docker.sock');
    manager = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      req.resume();
      if (/\/info$/.test(req.url ?? '')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Swarm: { LocalNodeState: 'active', ControlAvailable: true } }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"message":"not a real manager"}');
    });
    await new Promise<void>((resolve) => manager.listen(socketPath, resolve));
    chmodSync(socketPath, 0o777);
    dockerHost = `unix://${socketPath}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (manager ? manager.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [{ WEBHOOK_TOKENS: 'short' }, /WEBHOOK_TOKENS/],
    [{ WEBHOOK_TOKENS: 'a-token-of-16-chars', DRY_RUN: 'maybe' }, /DRY_RUN must be true or false/],
    [{ WEBHOOK_TOKENS: 'a-token-of-16-chars', CLOUD: 'aws' }, /CLUSTER_TAG/],
  ])(
    'fails the start with %o: exits non-zero, names the variable, serves nothing',
    async (env, message) => {
      const run = await runStart({ ...env, DOCKER_HOST: dockerHost, PORT: '0' });
      expect(run.killed, run.stdout).toBeUndefined();
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).not.toContain('Serving on');
    },
    RUN_LIMIT_MS + 10_000,
  );

  it(
    'serves with valid settings (the same run, so the failures above are the settings)',
    async () => {
      const run = await runStart({
        WEBHOOK_TOKENS: 'a-token-of-16-chars',
        DOCKER_HOST: dockerHost,
        PORT: '0',
      });
      expect(run.killed, run.stderr).toBe('serving');
      expect(run.stdout).toContain(`Using the swarm manager at ${dockerHost}`);
    },
    RUN_LIMIT_MS + 10_000,
  );
});
