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
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { onProcessExit } from './exit-hooks';
import { kill } from './proc';
import type { SwarmNode } from './swarm';

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

export interface SsmCall {
  name: string;
  withDecryption: boolean;
  args: string[];
}

export interface ImdsRequest {
  method: string;
  path: string;
  /** The PUT carried a valid TTL header, or the GET a token this server issued. */
  authorized: boolean;
  status: number;
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

const ssmCall = z.object({ args: z.array(z.string()) });

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

/**
 * A stand-in for the AWS CLI v2 that knows `ssm get-parameter --name N [--with-decryption]
 * [--query Parameter.Value --output text]` and logs every call (arguments only: no values).
 */
function writeFakeAws(
  binDir: string,
  parametersFile: string,
  callsFile: string,
  data: { parameters: Record<string, string>; secure: string[] },
): void {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(parametersFile, JSON.stringify(data), { mode: 0o600 });
  const script = `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(callsFile)}, JSON.stringify({ args }) + '\\n');
const opt = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
if (args[0] !== 'ssm' || args[1] !== 'get-parameter') {
  process.stderr.write('fake aws: only "ssm get-parameter" is implemented\\n');
  process.exit(252);
}
const name = opt('--name');
const { parameters, secure } = JSON.parse(fs.readFileSync(${JSON.stringify(parametersFile)}, 'utf8'));
if (name === undefined || !Object.prototype.hasOwnProperty.call(parameters, name)) {
  process.stderr.write('\\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \\n');
  process.exit(255);
}
const isSecure = secure.includes(name);
const value = isSecure && !args.includes('--with-decryption')
  ? 'AQICAHh' + Buffer.from(parameters[name]).toString('base64').slice(0, 40)
  : parameters[name];
if (opt('--query') === 'Parameter.Value' && opt('--output') === 'text') {
  process.stdout.write(value + '\\n');
} else {
  const parameter = { Name: name, Type: isSecure ? 'SecureString' : 'String', Value: value, Version: 1 };
  process.stdout.write(JSON.stringify({ Parameter: parameter }, null, 4) + '\\n');
}
`;
  writeFileSync(join(binDir, 'aws'), script, { mode: 0o755 });
}

function readCalls(file: string): SsmCall[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const { args } = ssmCall.parse(JSON.parse(line));
      const i = args.indexOf('--name');
      return { name: args[i + 1] ?? '', withDecryption: args.includes('--with-decryption'), args };
    });
}

// ---------------------------------------------------------------------------------------
// A fake IMDSv2

interface FakeImds {
  url: string;
  requests: ImdsRequest[];
  close(): Promise<void>;
}

async function startFakeImds(opts: {
  instanceId: string;
  privateIp: string;
  failFirst: number;
}): Promise<FakeImds> {
  const requests: ImdsRequest[] = [];
  const tokens = new Set<string>();
  let failuresLeft = opts.failFirst;
  const metadata: Record<string, string> = {
    '/latest/meta-data/instance-id': opts.instanceId,
    '/latest/meta-data/local-ipv4': opts.privateIp,
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const reply = (status: number, body: string, authorized: boolean): void => {
      requests.push({ method: req.method ?? '', path, authorized, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    };
    if (failuresLeft > 0) {
      failuresLeft--;
      reply(500, 'Internal Server Error', false);
    } else if (path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (req.method !== 'PUT') {
        reply(405, 'Method Not Allowed', false);
      } else if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) {
        reply(400, 'Bad Request', false);
      } else {
        const token = `imds-${randomBytes(16).toString('hex')}`;
        tokens.add(token);
        reply(200, token, true);
      }
    } else {
      const token = req.headers['x-aws-ec2-metadata-token'];
      const authorized = typeof token === 'string' && tokens.has(token);
      const value = metadata[path];
      if (req.method !== 'GET') reply(405, 'Method Not Allowed', authorized);
      // IMDSv2 only (HttpTokens=required): no token, no answer.
      else if (!authorized) reply(401, 'Unauthorized', false);
      else if (value === undefined) reply(404, 'Not Found', true);
      else reply(200, value, true);
    }
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the fake IMDS has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
