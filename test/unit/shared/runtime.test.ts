import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { swarmAccess } from '../../../shared/config/managers';
import type { Runtime } from '../../../shared/config/runtime';

const ssmMock = mockClient(SSMClient);
const TTL_MS = 5 * 60_000;

/** A fresh container: the runtime module loaded anew under this environment (a cold start). */
async function coldStart(env: Record<string, string>): Promise<Runtime> {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  vi.resetModules();
  const { runtime } = await import('../../../shared/config/runtime');
  return runtime();
}

const deployed = {
  WEBHOOK_TOKENS: 'runtime-test-token-0123456789',
  // Never connected to: these tests look at the client that would be used.
  DOCKER_HOST: 'tcp://10.0.0.5:2376',
  DOCKER_TLS_VERIFY: 'true',
  SETTINGS_PREFIX: '/rt',
};

function material(cert: string, names: readonly string[] = ['ca', 'cert', 'key']) {
  const values: Record<string, string> = { ca: 'CA', cert, key: `KEY-${cert}` };
  return {
    Parameters: names.map((n) => ({ Name: `/rt/secrets/docker-tls-${n}`, Value: values[n] })),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-11-24T12:00:00Z'));
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  ssmMock.reset();
});

describe('runtime Docker client', () => {
  it('with DOCKER_TLS_VERIFY on, fails naming the missing SSM parameter instead of speaking plain HTTP', async () => {
    ssmMock.on(GetParametersByPathCommand).resolves(material('CERT-A', ['ca', 'cert']));
    const rt = await coldStart(deployed);
    await expect(swarmAccess(rt).docker()).rejects.toThrow(/\/rt\/secrets\/docker-tls-key/);
    // Not cached for the container's life: once the parameter exists, the next read after the TTL uses it.
    ssmMock.reset();
    ssmMock.on(GetParametersByPathCommand).resolves(material('CERT-A'));
    vi.setSystemTime(Date.now() + TTL_MS + 1);
    const docker = await swarmAccess(rt).docker();
    expect(docker.modem).toMatchObject({ protocol: 'https', cert: 'CERT-A', key: 'KEY-CERT-A' });
  });

  it('rebuilds the client when the material changed after the TTL, and only then', async () => {
    ssmMock.on(GetParametersByPathCommand).resolves(material('CERT-A'));
    const rt = await coldStart(deployed);
    const first = await swarmAccess(rt).docker();
    expect(first.modem).toMatchObject({ protocol: 'https', cert: 'CERT-A' });

    // Rotated in SSM: within the TTL the cached material (and client) is still used.
    ssmMock.on(GetParametersByPathCommand).resolves(material('CERT-B'));
    vi.setSystemTime(Date.now() + TTL_MS / 2);
    expect(await swarmAccess(rt).docker()).toBe(first);

    vi.setSystemTime(Date.now() + TTL_MS);
    const second = await swarmAccess(rt).docker();
    expect(second).not.toBe(first);
    expect(second.modem).toMatchObject({ protocol: 'https', cert: 'CERT-B', key: 'KEY-CERT-B' });

    // Read again, unchanged: the same client (its connections are kept).
    vi.setSystemTime(Date.now() + TTL_MS + 1);
    expect(await swarmAccess(rt).docker()).toBe(second);
    expect(ssmMock.commandCalls(GetParametersByPathCommand)).toHaveLength(3);
  });

  it('for a unix socket builds one client and never asks SSM for TLS material', async () => {
    const rt = await coldStart({ WEBHOOK_TOKENS: deployed.WEBHOOK_TOKENS, DOCKER_HOST: 'unix:///x.sock' });
    const docker = await swarmAccess(rt).docker();
    expect(docker.modem).toMatchObject({ socketPath: '/x.sock' });
    vi.setSystemTime(Date.now() + TTL_MS + 1);
    expect(await swarmAccess(rt).docker()).toBe(docker);
    expect(ssmMock.calls()).toHaveLength(0);
  });
});
