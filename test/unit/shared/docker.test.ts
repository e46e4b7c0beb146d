import { describe, expect, it } from 'vitest';
import { classifyDockerError } from '../../../shared/docker';
import { DependencyUnavailableError, VersionConflictError } from '../../../shared/errors';
import { retryOnConflict } from '../../../shared/retry';

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
});

describe('retryOnConflict', () => {
  it('retries conflicts with growing jittered waits, then gives up retryably', async () => {
    const waits: number[] = [];
    let calls = 0;
    await expect(
      retryOnConflict(
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
      retryOnConflict({ attempts: 4 }, async () => {
        calls++;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });
});
