import { describe, expect, it } from 'vitest';
import { classifyDockerError, createDockerClient } from '../../../shared/adapters/docker';
import {
  DependencyUnavailableError,
  QuorumLostError,
  SettingsError,
  VersionConflictError,
} from '../../../shared/domain/errors';
import { retryAttempt } from '../../../shared/domain/retry';

describe('classifyDockerError', () => {
  it('maps Docker answers to our errors', () => {
    expect(() =>
      classifyDockerError(
        { statusCode: 500, json: { message: 'rpc error: code = Unknown desc = update out of sequence' } },
        'x',
      ),
    ).toThrow(VersionConflictError);
    expect(classifyDockerError({ statusCode: 404, json: { message: 'service web not found' } }, 'x')).toBe(
      'not-found',
    );
    expect(() =>
      classifyDockerError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'x'),
    ).toThrow(DependencyUnavailableError);
    expect(() =>
      classifyDockerError({ statusCode: 503, json: { message: 'This node is not a swarm manager.' } }, 'x'),
    ).toThrow(DependencyUnavailableError);
    const bug = { statusCode: 400, json: { message: 'invalid spec' } };
    expect(() => classifyDockerError(bug, 'x')).toThrow(expect.objectContaining(bug));
  });

  it("passes the manager pool's own verdict through unchanged (a lost quorum stays a lost quorum)", () => {
    const verdict = new QuorumLostError('no reachable manager sees a leader (unix:///m1: no-leader)');
    expect(() => classifyDockerError(verdict, 'listing nodes')).toThrow(verdict);
  });

  it('reads an ambiguous ID prefix as no object with exactly that name', () => {
    const ambiguous = { statusCode: 400, json: { message: 'service v is ambiguous (2 matches found)' } };
    expect(classifyDockerError(ambiguous, 'x')).toBe('not-found');
  });
});

describe('createDockerClient', () => {
  const tcp = { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: undefined, timeoutMs: 1_000 };

  it('never builds a plain-HTTP client when TLS is on and no material is given', () => {
    expect(() => createDockerClient(tcp)).toThrow(SettingsError);
    expect(() => createDockerClient(tcp)).toThrow(/DOCKER_TLS_VERIFY/);
  });

  it('speaks TLS with the material it is given, and plain HTTP only when TLS is off', () => {
    const tls = createDockerClient(tcp, { ca: 'CA', cert: 'CERT', key: 'KEY' });
    expect(tls.modem).toMatchObject({ protocol: 'https', ca: 'CA', cert: 'CERT', key: 'KEY' });
    expect(createDockerClient({ ...tcp, tlsVerify: false }).modem).toMatchObject({ protocol: 'http' });
  });
});

describe('retryAttempt', () => {
  it('retries conflicts with growing jittered waits, then gives up retryably', async () => {
    const waits: number[] = [];
    let calls = 0;
    await expect(
      retryAttempt(
        { attempts: 4, sleep: async (ms) => void waits.push(ms), random: () => 0.99 },
        async () => {
          calls++;
          throw new VersionConflictError('update out of sequence');
        },
      ),
    ).rejects.toMatchObject({ retryable: true, message: /gave up after 4/ });
    expect(calls).toBe(4);
    expect(waits).toEqual([49, 99, 198]);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await expect(
      retryAttempt({ attempts: 4 }, async () => {
        calls++;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });

  it('retries an unreachable dependency with backoff, a bounded number of times', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await retryAttempt(
      { attempts: 5, sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
      async () => {
        calls++;
        if (calls < 3) throw new DependencyUnavailableError('docker', 'ECONNRESET');
        return 'done';
      },
    );
    expect(result).toBe('done');
    expect(waits).toEqual([200, 400]);
    calls = 0;
    await expect(
      retryAttempt({ attempts: 5, transientAttempts: 2, sleep: async () => {} }, async () => {
        calls++;
        throw new DependencyUnavailableError('aws', 'Throttling');
      }),
    ).rejects.toMatchObject({ dependency: 'aws' });
    expect(calls).toBe(3);
  });

  it('stops retrying at the deadline, and never retries a lost quorum', async () => {
    let t = 0;
    let calls = 0;
    await expect(
      retryAttempt(
        {
          attempts: 5,
          transientAttempts: 10,
          deadlineMs: 1_000,
          now: () => t,
          random: () => 1,
          sleep: async (ms) => {
            t += ms;
          },
        },
        async () => {
          calls++;
          throw new DependencyUnavailableError('docker', 'timeout');
        },
      ),
    ).rejects.toThrow('timeout');
    expect(t).toBeLessThanOrEqual(1_000);
    expect(calls).toBeLessThan(10);
    calls = 0;
    await expect(
      retryAttempt({ attempts: 5, sleep: async () => {} }, async () => {
        calls++;
        throw new QuorumLostError('no leader');
      }),
    ).rejects.toBeInstanceOf(QuorumLostError);
    expect(calls).toBe(1);
  });
});
