/**
 * `npm run pause -- "<reason>"` / `npm run resume`: stops (or restarts) every remediating
 * function within PAUSE_TTL_MS (30 s), without a redeploy. With SETTINGS_PREFIX set (a
 * deployment), it writes the SSM parameter `<SETTINGS_PREFIX>/pause` with your AWS credentials;
 * without it (on-prem), the label com.swarm-reflex.paused on the swarm object, through
 * DOCKER_HOST (or SWARM_MANAGERS). `by` is `$USER@hostname` unless PAUSED_BY is set. Resuming
 * writes `"paused": false` with who resumed and when (SSM) or removes the label (swarm).
 */

import { hostname } from 'node:os';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ClientSource } from '../shared/adapters/aws';
import { createParameterStore } from '../shared/adapters/ssm';
import { createSwarmNodes } from '../shared/adapters/swarm';
import { buildManagerPool, dockerClients, pauseParameterName } from '../shared/config/managers';
import { parseSettings } from '../shared/config/settings';
import { ReflexError, ValidationError } from '../shared/domain/errors';
import { PAUSE_LABEL, type PauseRecord, writePauseLabel } from '../shared/domain/pause';
import type { SwarmNodes } from '../shared/domain/swarm';

const MAX_REASON = 1_000;
const MAX_BY = 200;

export type PauseCommand = { mode: 'pause' | 'resume'; record: PauseRecord };

/** Reads the command line and who is asking; a bad invocation throws a ValidationError that names the problem. */
export function readPauseCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  now: Date,
  host: string = hostname(),
): PauseCommand {
  const [mode, ...words] = argv;
  if (mode !== 'pause' && mode !== 'resume') {
    throw new ValidationError('usage: npm run pause -- "<reason>" | npm run resume [-- "<note>"]');
  }
  const reason = words.join(' ').trim();
  if (mode === 'pause' && reason === '') {
    throw new ValidationError('a reason is required: npm run pause -- "<why, and until when>"');
  }
  if (reason.length > MAX_REASON) {
    throw new ValidationError(`the reason is ${reason.length} characters; at most ${MAX_REASON}`);
  }
  const by = (env.PAUSED_BY?.trim() || `${env.USER || env.LOGNAME || 'unknown'}@${host}`).trim();
  if (by.length > MAX_BY)
    throw new ValidationError(`PAUSED_BY is ${by.length} characters; at most ${MAX_BY}`);
  return {
    mode,
    record: { paused: mode === 'pause', since: now.toISOString(), by, reason: reason || 'resumed' },
  };
}

/** Where the pause goes: the SSM parameter (deployed) or the swarm label (on-prem). */
export type PauseStore =
  | { kind: 'ssm'; settingsPrefix: string; ssm: ClientSource<SSMClient> }
  | { kind: 'swarm'; swarm: Pick<SwarmNodes, 'inspectSwarm' | 'updateSwarm'> };

/** Writes the command to its store; says what was done, in one line. */
export async function applyPauseCommand(command: PauseCommand, store: PauseStore): Promise<string> {
  const { record } = command;
  const verb = command.mode === 'pause' ? 'paused' : 'resumed';
  if (store.kind === 'ssm') {
    const name = pauseParameterName(store.settingsPrefix);
    // Resuming keeps who resumed and when (a String parameter, overwritten: its history is in SSM).
    await createParameterStore(store.ssm).put(name, JSON.stringify(record), 'String');
    return `${verb} by ${record.by} at ${record.since} (SSM parameter ${name}); every function sees it within 30 s`;
  }
  await writePauseLabel(store.swarm, command.mode === 'pause' ? record : undefined);
  return `${verb} by ${record.by} at ${record.since} (swarm label ${PAUSE_LABEL}); every function sees it within 30 s`;
}

async function main(): Promise<number> {
  const command = readPauseCommand(process.argv.slice(2), process.env, new Date());
  const settings = parseSettings(process.env, { tokens: 'optional' });
  let store: PauseStore;
  if (settings.settingsPrefix !== undefined) {
    const { SSMClient } = await import('@aws-sdk/client-ssm');
    const client = new SSMClient({});
    store = { kind: 'ssm', settingsPrefix: settings.settingsPrefix, ssm: () => client };
  } else {
    const pool = buildManagerPool(settings, {
      client: dockerClients(settings, async () => undefined),
      parameters: undefined,
    });
    store = { kind: 'swarm', swarm: createSwarmNodes(pool) };
  }
  process.stdout.write(`${await applyPauseCommand(command, store)}\n`);
  return 0;
}

// Run as a script (tsx scripts/pause.ts …), not when a test imports it.
if (process.argv[1]?.endsWith('pause.ts')) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const mode = process.argv[2] === 'resume' ? 'resume' : 'pause';
      process.stderr.write(
        error instanceof ReflexError
          ? `npm run ${mode}: ${error.message}; nothing was changed\n`
          : `npm run ${mode} failed: ${(error as Error)?.stack ?? String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
