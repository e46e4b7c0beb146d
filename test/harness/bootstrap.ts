/**
 * Runs the node bootstrap (deploy/bootstrap.sh, the EC2 user-data) for a harness node, with
 * fakes for what only EC2 has: the instance metadata service (IMDSv2, on 127.0.0.1) and the
 * AWS CLI's `ssm get-parameter` (a small script answering from a map).
 *
 * The script runs in the root network namespace: it only talks to the node's unix socket
 * (DOCKER_HOST), signals the node's dockerd by pid, and reaches IMDS on loopback; the join
 * itself is made by the node's dockerd, inside the node's namespace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onProcessExit } from '../../local/exit-hooks';
import { kill } from '../../local/proc';
import { readCalls, type SsmCall, writeFakeAws } from './fake-aws';
import { type ImdsRequest, startFakeImds } from './fake-imds';
import type { SwarmNode } from './swarm';

export type { SsmCall } from './fake-aws';
export type { ImdsRequest } from './fake-imds';

export const BOOTSTRAP_SCRIPT = fileURLToPath(new URL('../../deploy/bootstrap.sh', import.meta.url));

export interface RunBootstrapOptions {
  role: 'worker' | 'manager';
  /** SETTINGS_PREFIX, e.g. `/swarm-reflex/test`. */
  settingsPrefix: string;
  /** What the fake `aws ssm get-parameter` knows, by full parameter name. Others: ParameterNotFound. */
  parameters: Record<string, string>;
  /** Parameters stored as SecureString (read without --with-decryption they come back as ciphertext). Default: names containing `join-token`. */
  secureParameters?: string[];
  /** What IMDS answers for instance-id. The script insists on the EC2 shape `i-` + 8 to 17 hex digits. */
  instanceId: string;
  /** What IMDS answers for local-ipv4. Default: the node's address. */
  privateIp?: string;
  /** DOCKER_DAEMON_JSON. Default: the node's `configFile`. */
  daemonJsonPath?: string;
  /** DOCKER_PIDFILE. Default: the node's `pidFile`. */
  pidfile?: string;
  /** IMDS answers the first N requests with 500 (to exercise the retries). Default 0. */
  imdsFailFirst?: number;
  /** Run under `bash -x` (the token must stay out of the trace too). */
  xtrace?: boolean;
  /**
   * More environment for the script; overrides the defaults, which keep retries short for
   * tests (BOOTSTRAP_RETRY_BASE_SECONDS=1, BOOTSTRAP_RETRY_MAX_SECONDS=1,
   * BOOTSTRAP_SSM_ATTEMPTS=3, BOOTSTRAP_JOIN_ROUNDS=2, BOOTSTRAP_PROBE_TIMEOUT_SECONDS=2, ...).
   */
  env?: Record<string, string>;
  /** The script is killed (SIGKILL, with its children) after this long. Default 90 s. */
  timeoutMs?: number;
}

export interface BootstrapResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Every `aws` invocation, in order. */
  ssmCalls: SsmCall[];
  /** Every request the fake IMDS got, in order. */
  imdsRequests: ImdsRequest[];
  durationMs: number;
}

const FAST_DEFAULTS: Record<string, string> = {
  BOOTSTRAP_RETRY_BASE_SECONDS: '1',
  BOOTSTRAP_RETRY_MAX_SECONDS: '1',
  BOOTSTRAP_DOCKER_WAIT_SECONDS: '15',
  BOOTSTRAP_IMDS_ATTEMPTS: '4',
  BOOTSTRAP_LABEL_WAIT_SECONDS: '15',
  BOOTSTRAP_SSM_ATTEMPTS: '3',
  BOOTSTRAP_JOIN_ROUNDS: '2',
  BOOTSTRAP_JOIN_TIMEOUT_SECONDS: '45',
  BOOTSTRAP_PROBE_TIMEOUT_SECONDS: '2',
};

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function runBootstrap(node: SwarmNode, opts: RunBootstrapOptions): Promise<BootstrapResult> {
  const dir = mkdtempSync(join(tmpdir(), 'srxboot-'));
  const imds = await startFakeImds({
    instanceId: opts.instanceId,
    privateIp: opts.privateIp ?? node.address,
    failFirst: opts.imdsFailFirst ?? 0,
  });
  try {
    const binDir = join(dir, 'bin');
    const callsFile = join(dir, 'aws-calls.jsonl');
    writeFakeAws(binDir, join(dir, 'parameters.json'), callsFile, {
      parameters: opts.parameters,
      secure: opts.secureParameters ?? Object.keys(opts.parameters).filter((n) => n.includes('join-token')),
    });
    const env: Record<string, string> = {
      PATH: `${binDir}:${SYSTEM_PATH}`,
      HOME: dir, // the Docker CLI's config and contexts: none
      TMPDIR: dir,
      LANG: 'C.UTF-8',
      ROLE: opts.role,
      SETTINGS_PREFIX: opts.settingsPrefix,
      AWS_REGION: 'eu-west-1',
      AWS_CLI: join(binDir, 'aws'),
      DOCKER_HOST: node.dockerHost,
      IMDS_ENDPOINT: imds.url,
      DOCKER_DAEMON_JSON: opts.daemonJsonPath ?? node.configFile,
      DOCKER_PIDFILE: opts.pidfile ?? node.pidFile,
      // Per node, so two runs for one node serialise as on a real instance.
      BOOTSTRAP_LOCK: join(dirname(node.configFile), 'bootstrap.lock'),
      ...FAST_DEFAULTS,
      ...opts.env,
    };
    const args = [...(opts.xtrace ? ['-x'] : []), BOOTSTRAP_SCRIPT];
    const started = Date.now();
    const { code, stdout, stderr } = await runScript(args, env, opts.timeoutMs ?? 90_000);
    return {
      code,
      stdout,
      stderr,
      ssmCalls: readCalls(callsFile),
      imdsRequests: [...imds.requests],
      durationMs: Date.now() - started,
    };
  } finally {
    await imds.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runScript(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout (or this process dying) takes docker, curl, aws along.
    const child = spawn('bash', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      if (child.pid !== undefined) kill(-child.pid, 'SIGKILL');
    };
    const unregister = onProcessExit(killGroup);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      unregister();
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      unregister();
      if (timedOut) {
        reject(new Error(`bootstrap.sh did not finish within ${timeoutMs} ms; its stderr:\n${stderr}`));
      } else {
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      }
    });
  });
}
