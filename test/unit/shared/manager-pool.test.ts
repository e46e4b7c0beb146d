import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { createManagerPool, onDocker, skipReason } from '../../../shared/adapters/manager-pool';
import { DependencyUnavailableError, QuorumLostError } from '../../../shared/domain/errors';

/** What dockerode throws: a connection error has no statusCode; an HTTP error carries the daemon's JSON. */
const refused = () => Object.assign(new Error('connect ECONNREFUSED /run/m1.sock'), { code: 'ECONNREFUSED' });
const answered = (statusCode: number, message: string) =>
  Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
const noLeader = () =>
  answered(
    503,
    "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online.",
  );

function managers(behaviour: Record<string, () => unknown>) {
  const calls: string[] = [];
  const pool = createManagerPool({
    sleep: async () => {},
    endpoints: async () => Object.keys(behaviour),
    client: async (endpoint) =>
      ({
        listNodes: async () => {
          calls.push(endpoint);
          const b = behaviour[endpoint];
          return b ? b() : undefined;
        },
      }) as unknown as Docker,
  });
  const list = () => pool.run((d) => d.listNodes() as Promise<unknown>);
  return { pool, calls, list };
}

describe('the manager pool', () => {
  it('skips a manager that does not answer and remembers the one that did (warm path: one hop)', async () => {
    const m = managers({
      'unix:///m1': () => {
        throw refused();
      },
      'unix:///m2': () => ['m2 answer'],
      'unix:///m3': () => ['m3 answer'],
    });
    expect(await m.list()).toEqual(['m2 answer']);
    expect(m.pool.current).toBe('unix:///m2');
    expect(await m.list()).toEqual(['m2 answer']);
    expect(m.calls).toEqual(['unix:///m1', 'unix:///m2', 'unix:///m2']);
  });

  it('asks the others when one manager sees no leader (its own view, e.g. a minority partition)', async () => {
    const m = managers({
      'unix:///m1': () => {
        throw noLeader();
      },
      'unix:///m2': () => ['majority'],
    });
    expect(await m.list()).toEqual(['majority']);
  });

  it('reports a lost quorum only when no reachable manager sees a leader, naming who answered and who did not', async () => {
    const m = managers({
      'unix:///m1': () => {
        throw noLeader();
      },
      'unix:///m2': () => {
        throw refused();
      },
      'unix:///m3': () => {
        throw answered(500, 'context deadline exceeded');
      },
    });
    const error = await m.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuorumLostError);
    expect((error as Error).message).toMatch(
      /unix:\/\/\/m1: no-leader; unix:\/\/\/m2: no answer \(connect ECONNREFUSED/,
    );
    expect((error as Error).message).toMatch(/unix:\/\/\/m3: no answer \(context deadline exceeded\)/);
  });

  it('asks once more before saying quorum is lost: "no leader" may be an election under way', async () => {
    let electing = true;
    const m = managers({
      'unix:///m1': () => {
        if (electing) {
          electing = false;
          throw noLeader();
        }
        return ['new leader elected'];
      },
    });
    expect(await m.list()).toEqual(['new leader elected']);
    expect(m.calls).toEqual(['unix:///m1', 'unix:///m1']);
  });

  it('is unavailable (503) when no manager answers at all', async () => {
    const m = managers({
      'unix:///m1': () => {
        throw refused();
      },
      'unix:///m2': () => {
        throw answered(
          503,
          "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state.",
        );
      },
    });
    const error = await m.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(error).not.toBeInstanceOf(QuorumLostError);
    expect((error as Error).message).toMatch(/m2: not-manager/);
  });

  it('passes a real answer through without trying others (a 404, a version conflict)', async () => {
    for (const e of [
      answered(404, 'node xyz not found'),
      answered(500, 'rpc error: code = Unknown desc = update out of sequence'),
    ]) {
      const m = managers({
        'unix:///m1': () => {
          throw e;
        },
        'unix:///m2': () => ['never'],
      });
      await expect(m.list()).rejects.toBe(e);
      expect(m.calls).toEqual(['unix:///m1']);
    }
  });

  it('stops trying endpoints past its deadline', async () => {
    let t = 0;
    const calls: string[] = [];
    const pool = createManagerPool({
      endpoints: async () => ['unix:///a', 'unix:///b', 'unix:///c'],
      client: async (endpoint) =>
        ({
          ping: async () => {
            calls.push(endpoint);
            t += 1_000;
            throw refused();
          },
        }) as unknown as Docker,
      now: () => t,
      deadline: () => 1_500,
    });
    const error = await pool.run((d) => d.ping()).catch((e: unknown) => e);
    expect(calls).toEqual(['unix:///a', 'unix:///b']);
    expect((error as Error).message).toMatch(/unix:\/\/\/c: not tried \(deadline\)/);
  });

  it('tries the leader first once the node list named it', async () => {
    const m = managers({
      'tcp://10.0.0.1:2376': () => ['one'],
      'tcp://10.0.0.2:2376': () => ['leader'],
    });
    m.pool.preferLeader('10.0.0.2:2377');
    expect(await m.list()).toEqual(['leader']);
  });

  it('classifies what it skips, and leaves everything else to the caller', () => {
    expect(skipReason(refused())).toBe('no-answer');
    expect(skipReason(noLeader())).toBe('no-leader');
    expect(skipReason(answered(400, 'bad parameter'))).toBeUndefined();
  });

  it('runs an operation on a single Docker client, the source tests and scripts use', async () => {
    await expect(
      onDocker(
        async () => ({ ping: async () => 'OK' }) as unknown as Docker,
        (d) => d.ping(),
      ),
    ).resolves.toBe('OK');
  });
});
