import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecrets } from '../../../shared/config/secrets';
import type { Settings } from '../../../shared/config/settings';
import { recordAwsCall, relativeParameter } from '../../support/aws-ledger';

const ssmMock = mockClient(SSMClient);
afterEach(() => {
  // Every function's runtime reads its secrets this way: its calls speak for all of them.
  for (const call of ssmMock.commandCalls(GetParametersByPathCommand)) {
    recordAwsCall({
      action: 'ssm:GetParametersByPath',
      resource: { kind: 'ssm-parameter', relative: relativeParameter(call.args[0].input.Path ?? '') },
    });
  }
  ssmMock.reset();
});

type DockerSettings = Settings['docker'];
const plainDocker: DockerSettings = {
  host: 'unix:///var/run/docker.sock',
  tlsVerify: false,
  certPath: undefined,
  timeoutMs: 5_000,
  managers: [],
  port: 2_376,
};
const tlsDocker: DockerSettings = {
  host: 'tcp://10.0.0.5:2376',
  tlsVerify: true,
  certPath: undefined,
  timeoutMs: 5_000,
  managers: [],
  port: 2_376,
};

function secrets(prefix: string | undefined, clock: { t: number }, docker = plainDocker) {
  return createSecrets({
    settings: {
      settingsPrefix: prefix,
      webhookTokens: ['env-token-0123456789'],
      slackWebhookUrl: undefined,
      notifyWebhookUrl: undefined,
      docker,
    },
    ssm: () => new SSMClient({ region: 'eu-west-1' }),
    ttlMs: 1_000,
    now: () => clock.t,
  });
}

describe('secrets', () => {
  it('reads tokens and TLS material under the prefix, decrypted, across pages', async () => {
    ssmMock
      .on(GetParametersByPathCommand, { Path: '/sr/prod/secrets', NextToken: undefined })
      .resolves({
        Parameters: [
          { Name: '/sr/prod/secrets/webhook-tokens', Value: 'ssm-token-0123456789,ssm-token-abcdefghij' },
        ],
        NextToken: 'p2',
      })
      .on(GetParametersByPathCommand, { Path: '/sr/prod/secrets', NextToken: 'p2' })
      .resolves({
        Parameters: [
          { Name: '/sr/prod/secrets/docker-tls-ca', Value: 'CA' },
          { Name: '/sr/prod/secrets/docker-tls-cert', Value: 'CERT' },
          { Name: '/sr/prod/secrets/docker-tls-key', Value: 'KEY' },
        ],
      });
    const s = secrets('/sr/prod', { t: 0 }, tlsDocker);
    expect(await s.webhookTokens()).toEqual([
      'env-token-0123456789',
      'ssm-token-0123456789',
      'ssm-token-abcdefghij',
    ]);
    expect(await s.dockerTls()).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY' });
    const calls = ssmMock.commandCalls(GetParametersByPathCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input).toMatchObject({ WithDecryption: true });
  });

  it('caches for the TTL, then reads again and picks up a rotation', async () => {
    ssmMock
      .on(GetParametersByPathCommand)
      .resolvesOnce({ Parameters: [{ Name: '/p/secrets/webhook-tokens', Value: 'old-token-0123456789' }] })
      .resolves({ Parameters: [{ Name: '/p/secrets/webhook-tokens', Value: 'new-token-0123456789' }] });
    const clock = { t: 0 };
    const s = secrets('/p', clock);
    expect(await s.webhookTokens()).toContain('old-token-0123456789');
    clock.t = 500;
    expect(await s.webhookTokens()).toContain('old-token-0123456789');
    expect(ssmMock.commandCalls(GetParametersByPathCommand)).toHaveLength(1);
    clock.t = 1_500;
    expect(await s.webhookTokens()).toContain('new-token-0123456789');
  });

  it('fails with a retryable error when SSM cannot be read and nothing is cached', async () => {
    ssmMock
      .on(GetParametersByPathCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(secrets('/p', { t: 0 }).webhookTokens()).rejects.toMatchObject({
      name: 'DependencyUnavailableError',
      retryable: true,
    });
  });

  it('serves the cached value when SSM fails after the TTL', async () => {
    ssmMock
      .on(GetParametersByPathCommand)
      .resolvesOnce({ Parameters: [{ Name: '/p/secrets/webhook-tokens', Value: 'old-token-0123456789' }] })
      .rejects(new Error('AccessDenied'));
    const clock = { t: 0 };
    const s = secrets('/p', clock);
    await s.webhookTokens();
    clock.t = 5_000;
    expect(await s.webhookTokens()).toContain('old-token-0123456789');
  });

  it('never calls SSM without a prefix', async () => {
    expect(await secrets(undefined, { t: 0 }).webhookTokens()).toEqual(['env-token-0123456789']);
    expect(ssmMock.calls()).toHaveLength(0);
  });
});

describe('Docker TLS material', () => {
  const tlsParameters = (names: readonly string[]) => ({
    Parameters: names.map((n) => ({ Name: `/p/secrets/docker-tls-${n}`, Value: n.toUpperCase() })),
  });

  it('with DOCKER_TLS_VERIFY on, material missing from SSM is an error that names the parameter', async () => {
    ssmMock.on(GetParametersByPathCommand).resolves(tlsParameters(['ca', 'cert']));
    const read = secrets('/p', { t: 0 }, tlsDocker).dockerTls();
    await expect(read).rejects.toMatchObject({ name: 'SettingsError' });
    await expect(read).rejects.toThrow(/\/p\/secrets\/docker-tls-key/);
  });

  it('with DOCKER_TLS_VERIFY on and no material at all, names every missing parameter', async () => {
    ssmMock.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    await expect(secrets('/p', { t: 0 }, tlsDocker).dockerTls()).rejects.toThrow(
      /\/p\/secrets\/docker-tls-ca.*\/p\/secrets\/docker-tls-cert.*\/p\/secrets\/docker-tls-key/,
    );
  });

  it('treats part of the material in SSM as TLS wanted, even with DOCKER_TLS_VERIFY off', async () => {
    ssmMock.on(GetParametersByPathCommand).resolves(tlsParameters(['ca']));
    const tcp = { ...tlsDocker, tlsVerify: false };
    await expect(secrets('/p', { t: 0 }, tcp).dockerTls()).rejects.toThrow(/docker-tls-cert/);
  });

  it('uses complete material from SSM even with DOCKER_TLS_VERIFY off, and none for plain tcp', async () => {
    const tcp = { ...tlsDocker, tlsVerify: false };
    ssmMock.on(GetParametersByPathCommand).resolves(tlsParameters(['ca', 'cert', 'key']));
    expect(await secrets('/p', { t: 0 }, tcp).dockerTls()).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY' });
    ssmMock.reset();
    ssmMock.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    expect(await secrets('/p', { t: 0 }, tcp).dockerTls()).toBeUndefined();
  });

  it('needs no material for a unix socket', async () => {
    ssmMock.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    expect(await secrets('/p', { t: 0 }, { ...plainDocker, tlsVerify: true }).dockerTls()).toBeUndefined();
  });

  it('fails naming the SSM error when the material cannot be read at all', async () => {
    ssmMock
      .on(GetParametersByPathCommand)
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    await expect(secrets('/p', { t: 0 }, tlsDocker).dockerTls()).rejects.toMatchObject({
      name: 'DependencyUnavailableError',
    });
  });
});

describe('Docker TLS material from DOCKER_CERT_PATH', () => {
  it('reads ca.pem, cert.pem and key.pem, again after the TTL, and names a missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srx-certs-'));
    try {
      for (const f of ['ca', 'cert', 'key']) writeFileSync(join(dir, `${f}.pem`), `${f}-1`);
      const clock = { t: 0 };
      const s = secrets(undefined, clock, { ...tlsDocker, certPath: dir });
      expect(await s.dockerTls()).toEqual({ ca: 'ca-1', cert: 'cert-1', key: 'key-1' });
      writeFileSync(join(dir, 'cert.pem'), 'cert-2');
      clock.t = 500;
      expect((await s.dockerTls())?.cert).toBe('cert-1');
      clock.t = 1_500;
      expect((await s.dockerTls())?.cert).toBe('cert-2');
      rmSync(join(dir, 'key.pem'));
      clock.t = 3_000;
      await expect(s.dockerTls()).rejects.toThrow(new RegExp(`DOCKER_CERT_PATH.*${join(dir, 'key.pem')}`));
      expect(ssmMock.calls()).toHaveLength(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
