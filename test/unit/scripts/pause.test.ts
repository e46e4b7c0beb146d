import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { applyPauseCommand, readPauseCommand } from '../../../scripts/pause';
import { DependencyUnavailableError } from '../../../shared/domain/errors';
import { PAUSE_LABEL, readPause } from '../../../shared/domain/pause';
import { FakeNodes } from '../../support/fake-nodes';
import { fakeSsm } from '../../support/fake-ssm';
import { awsError } from '../../support/http-event';

const NOW = new Date('2026-11-24T12:00:00Z');
let ssm: ReturnType<typeof fakeSsm> | undefined;
afterEach(() => ssm?.mock.restore());

describe('npm run pause / resume: the command line', () => {
  it('takes the reason (words joined) and who: $USER@hostname, or PAUSED_BY', () => {
    expect(readPauseCommand(['pause', 'db', 'migration'], { USER: 'alice' }, NOW, 'laptop')).toEqual({
      mode: 'pause',
      record: { paused: true, since: NOW.toISOString(), by: 'alice@laptop', reason: 'db migration' },
    });
    const cmd = readPauseCommand(['resume'], { USER: 'alice', PAUSED_BY: 'ops-bot' }, NOW, 'h');
    expect(cmd.record).toEqual({ paused: false, since: NOW.toISOString(), by: 'ops-bot', reason: 'resumed' });
  });

  it('refuses a pause without a reason, a reason over 1000 characters, an over-long PAUSED_BY', () => {
    expect(() => readPauseCommand(['pause'], {}, NOW)).toThrow(/a reason is required/);
    expect(() => readPauseCommand(['pause', '  '], {}, NOW)).toThrow(/a reason is required/);
    expect(() => readPauseCommand(['pause', 'x'.repeat(1_001)], {}, NOW)).toThrow(
      /1001 characters; at most 1000/,
    );
    expect(readPauseCommand(['pause', 'x'.repeat(1_000)], {}, NOW).record.reason).toHaveLength(1_000);
    expect(() => readPauseCommand(['pause', 'r'], { PAUSED_BY: 'b'.repeat(201) }, NOW)).toThrow(/PAUSED_BY/);
    expect(() => readPauseCommand(['stop', 'r'], {}, NOW)).toThrow(/usage/);
  });
});

describe('npm run pause / resume, deployed: the SSM parameter <prefix>/pause', () => {
  it('writes a String parameter, overwriting; resume keeps who resumed and when', async () => {
    ssm = fakeSsm(() => NOW);
    const store = { kind: 'ssm' as const, settingsPrefix: '/swarm-reflex/prod', ssm: ssm.client };
    const said = await applyPauseCommand(
      readPauseCommand(['pause', 'incident'], { USER: 'a' }, NOW, 'h'),
      store,
    );
    expect(said).toContain('/swarm-reflex/prod/pause');
    const put = ssm.mock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: '/swarm-reflex/prod/pause', Type: 'String', Overwrite: true });
    expect(readPause(ssm.store.get('/swarm-reflex/prod/pause')?.value, 'ssm')).toMatchObject({
      by: 'a@h',
      reason: 'incident',
    });
    const later = new Date('2026-11-24T12:30:00Z');
    await applyPauseCommand(readPauseCommand(['resume'], { USER: 'b' }, later, 'h'), store);
    const stored = JSON.parse(ssm.store.get('/swarm-reflex/prod/pause')?.value ?? '');
    expect(stored).toEqual({ paused: false, since: later.toISOString(), by: 'b@h', reason: 'resumed' });
    expect(readPause(JSON.stringify(stored), 'ssm')).toBeUndefined();
  });

  it('fails naming what AWS answered when the person may not write it (nothing else is tried)', async () => {
    ssm = fakeSsm(() => NOW);
    ssm.hooks.fail = awsError('AccessDeniedException', 'User is not authorized to perform ssm:PutParameter');
    const store = { kind: 'ssm' as const, settingsPrefix: '/swarm-reflex/prod', ssm: ssm.client };
    const cmd = readPauseCommand(['pause', 'r'], {}, NOW);
    await expect(applyPauseCommand(cmd, store)).rejects.toThrow(DependencyUnavailableError);
    await expect(applyPauseCommand(cmd, store)).rejects.toThrow(/AccessDeniedException/);
    expect(ssm.store.size).toBe(0);
  });
});

describe('npm run pause / resume, on-prem: the swarm label', () => {
  it('sets the label with the JSON record, and resume removes it', async () => {
    const swarm = new FakeNodes();
    await applyPauseCommand(readPauseCommand(['pause', 'maintenance'], { USER: 'a' }, NOW, 'h'), {
      kind: 'swarm',
      swarm,
    });
    expect(readPause(swarm.swarm.labels[PAUSE_LABEL], 'swarm')).toMatchObject({
      reason: 'maintenance',
      by: 'a@h',
    });
    await applyPauseCommand(readPauseCommand(['resume'], { USER: 'a' }, NOW, 'h'), { kind: 'swarm', swarm });
    expect(swarm.swarm.labels).toEqual({});
  });
});
