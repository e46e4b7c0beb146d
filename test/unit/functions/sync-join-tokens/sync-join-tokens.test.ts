import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { syncJoinTokens } from '../../../../functions/sync-join-tokens/sync-join-tokens';
import { createLogger } from '../../../../shared/adapters/logger';
import { createParameterStore } from '../../../../shared/adapters/ssm';
import { joinParameterNames } from '../../../../shared/domain/join-parameters';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fakeSsm } from '../../../support/fake-ssm';

const names = joinParameterNames('/swarm-reflex/prod');
let ssm: ReturnType<typeof fakeSsm> | undefined;
afterEach(() => ssm?.mock.restore());

function setup(maxAgeDays = 0, clock = { t: new Date('2026-11-24T12:00:00Z') }) {
  ssm = fakeSsm(() => clock.t);
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('m2', { role: 'manager' })
    .add('m3', { role: 'manager', state: 'down' })
    .add('w1');
  const lines: string[] = [];
  const notifier = recordingNotifier();
  const deps = {
    swarm,
    parameters: createParameterStore(ssm.client),
    notifier,
    clock: { now: () => clock.t },
    settings: { settingsPrefix: '/swarm-reflex/prod', joinTokenMaxAgeDays: maxAgeDays },
  };
  const run = (rotate = false, dryRun = false) =>
    syncJoinTokens(deps, {
      rotate,
      dryRun,
      log: createLogger({ level: 'debug', sink: (l) => lines.push(l) }),
    });
  return { swarm, run, lines, notifier, clock, ssm };
}

describe('syncJoinTokens (SSM mocked at the SDK boundary)', () => {
  it('writes the tokens as SecureStrings and the reachable managers as a String', async () => {
    const { run, ssm: s } = setup();
    const result = await run();
    expect(result.outcomes[0]).toMatchObject({
      kind: 'synced',
      changed: [names.worker, names.manager, names.managers],
    });
    expect(s?.store.get(names.worker)).toMatchObject({ value: 'SWMTKN-1-worker-aaaa', type: 'SecureString' });
    expect(s?.store.get(names.manager)).toMatchObject({
      value: 'SWMTKN-1-manager-bbbb',
      type: 'SecureString',
    });
    expect(s?.store.get(names.managers)).toMatchObject({
      value: '10.0.0.10:2377,10.0.0.11:2377',
      type: 'String',
    });
  });

  it('writes nothing when nothing changed, and only what changed otherwise', async () => {
    const { run, swarm, ssm: s } = setup();
    await run();
    s?.mock.resetHistory();
    expect((await run()).outcomes[0]).toMatchObject({ kind: 'unchanged' });
    expect(s?.mock.commandCalls(PutParameterCommand)).toHaveLength(0);
    const m2 = swarm.node('m2');
    m2.manager = { leader: false, reachability: 'unreachable', addr: '10.0.0.11:2377' };
    expect((await run()).outcomes[0]).toMatchObject({ kind: 'synced', changed: [names.managers] });
  });

  it('rotates tokens older than the maximum age, writes the new ones and says so', async () => {
    const { run, swarm, ssm: s, clock, notifier } = setup(30);
    await run();
    clock.t = new Date('2026-12-30T12:00:00Z');
    const result = await run();
    expect(swarm.rotations).toBe(1);
    expect(result.outcomes[0]).toMatchObject({
      kind: 'synced',
      rotated: true,
      changed: [names.worker, names.manager],
    });
    expect(s?.store.get(names.worker)?.value).toBe('SWMTKN-1-worker-r1');
    expect(notifier.notices[0]?.title).toBe('Swarm join tokens rotated');
    expect((await run()).outcomes[0]).toMatchObject({ kind: 'unchanged' });
  });

  it('never puts a token in an outcome, a log line or a message', async () => {
    const { run, lines, notifier } = setup(1);
    const out = JSON.stringify(await run(true)) + lines.join('\n') + JSON.stringify(notifier.notices);
    expect(out).not.toMatch(/SWMTKN/);
  });

  it('changes nothing on a dry run', async () => {
    const { run, swarm, ssm: s } = setup();
    const result = await run(true, true);
    expect(result.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'dry-run', rotate: true });
    expect(swarm.rotations).toBe(0);
    expect(s?.store.size).toBe(0);
  });

  it('fails retryably when SSM throttles or denies, and a retry finishes the job', async () => {
    const { run, ssm: s } = setup();
    if (s) s.hooks.fail = Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    await expect(run()).rejects.toMatchObject({ name: 'DependencyUnavailableError', retryable: true });
    if (s) s.hooks.fail = undefined;
    expect((await run()).outcomes[0]).toMatchObject({ kind: 'synced' });
  });
});
