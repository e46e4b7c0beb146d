import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSwarmServices } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import type { Runtime } from '../../shared/config/runtime';
import { requireRealHarness, startSwarm, type TestSwarm } from '../harness';

/**
 * The deployed path to Docker: DOCKER_HOST=tcp://…, DOCKER_TLS_VERIFY=true, the client's TLS
 * material from SSM (mocked at the SDK boundary). In front of a real manager's socket sits a
 * TLS terminator that, like dockerd --tlsverify, requires a client certificate from its CA,
 * and records every connection: the certificate it presented, or that it spoke no TLS at all.
 */
const describeReal = requireRealHarness(describe, ['swarm']);
const PREFIX = '/swarm-reflex/it-tls';
const TTL_MS = 5 * 60_000;
const ssmMock = mockClient(SSMClient);

function openssl(dir: string, args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1, and client certificates with the given names. */
function makeCertificates(dir: string, clients: readonly string[]) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=srx-it-ca',
  ]);
  const sign = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  sign('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  for (const c of clients) sign(c, 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    ca: read('ca.pem'),
    server: { cert: read('server.pem'), key: read('server-key.pem') },
    client: (name: string) => ({ cert: read(`${name}.pem`), key: read(`${name}-key.pem`) }),
  };
}

describeReal('Docker over TLS with material from SSM (real manager behind a TLS terminator)', () => {
  let swarm: TestSwarm;
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  let terminator: TlsServer;
  let port: number;
  /** Per connection: the client certificate's CN, or `plain` for a client that spoke no TLS. */
  const connections: string[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srxtls-'));
    certs = makeCertificates(dir, ['client-old', 'client-new']);
    swarm = await startSwarm({ managers: 1, label: 'docker-tls' });
    terminator = createTlsServer(
      { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
      (socket: TLSSocket) => {
        connections.push(String(socket.getPeerCertificate().subject?.CN));
        const upstream = connect(swarm.manager.socketPath);
        for (const s of [socket, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
        }
        socket.pipe(upstream).pipe(socket);
      },
    );
    terminator.on('tlsClientError', () => void connections.push('plain'));
    await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
    port = (terminator.address() as { port: number }).port;
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
    ssmMock.reset();
    connections.length = 0;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (terminator ? terminator.close(() => resolve()) : resolve()));
    await swarm?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A cold start of a deployed function's runtime, its clock under the test's control. */
  async function coldStart(): Promise<Runtime> {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date());
    vi.stubEnv('WEBHOOK_TOKENS', 'docker-tls-it-token-0123456789');
    vi.stubEnv('DOCKER_HOST', `tcp://127.0.0.1:${port}`);
    vi.stubEnv('DOCKER_TLS_VERIFY', 'true');
    vi.stubEnv('DOCKER_TIMEOUT_MS', '3000');
    vi.stubEnv('SETTINGS_PREFIX', PREFIX);
    vi.resetModules();
    const { runtime } = await import('../../shared/config/runtime');
    return runtime();
  }

  function ssmHas(material: Partial<Record<'ca' | 'cert' | 'key', string>>) {
    ssmMock.reset();
    ssmMock.on(GetParametersByPathCommand).resolves({
      Parameters: Object.entries(material).map(([n, v]) => ({
        Name: `${PREFIX}/secrets/docker-tls-${n}`,
        Value: v,
      })),
    });
  }

  const listServices = (rt: Runtime) => createSwarmServices(() => swarmAccess(rt).docker()).listServices();

  it('with material missing from SSM fails naming the parameter, and never connects in plain HTTP', async () => {
    ssmHas({ ca: certs.ca, cert: certs.client('client-old').cert });
    const rt = await coldStart();
    await expect(listServices(rt)).rejects.toThrow(`${PREFIX}/secrets/docker-tls-key`);
    expect(connections).toEqual([]);
  });

  it('reaches the manager over TLS, and picks up rotated material after the TTL without a redeploy', async () => {
    ssmHas({ ca: certs.ca, ...certs.client('client-old') });
    const rt = await coldStart();
    await swarm.createService({ name: 'over-tls', replicas: 0 });
    expect((await listServices(rt)).map((s) => s.name)).toContain('over-tls');
    expect(connections).toEqual(['client-old']);

    // The operator puts a new client certificate in SSM.
    ssmHas({ ca: certs.ca, ...certs.client('client-new') });
    vi.setSystemTime(Date.now() + TTL_MS / 2);
    await listServices(rt);
    expect(connections.at(-1)).toBe('client-old');
    vi.setSystemTime(Date.now() + TTL_MS);
    expect((await listServices(rt)).map((s) => s.name)).toContain('over-tls');
    expect(connections.at(-1)).toBe('client-new');
    expect(connections).not.toContain('plain');
  });
});
