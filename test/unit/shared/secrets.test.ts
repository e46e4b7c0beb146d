import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecrets } from '../../../shared/secrets';
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

function secrets(prefix: string | undefined, clock: { t: number }) {
  return createSecrets({
    settings: {
      settingsPrefix: prefix,
      webhookTokens: ['env-token-0123456789'],
      slackWebhookUrl: undefined,
      notifyWebhookUrl: undefined,
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
    const s = secrets('/sr/prod', { t: 0 });
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
