import type { ParameterStore, StoredParameter } from '../../shared/domain/cloud';
import { joinParameterNames, managerAddresses } from '../../shared/domain/join-parameters';
import type { Logger } from '../../shared/domain/log';
import type { Notifier } from '../../shared/domain/notice';
import type { SwarmNodes } from '../../shared/domain/swarm';

/**
 * Keeps in SSM what a new node needs to join: the worker and manager join tokens
 * (SecureString) and the reachable managers' addresses (String), under
 * `<SETTINGS_PREFIX>/swarm/`. Writes only what changed; optionally rotates tokens that are
 * older than a set age. Token values never appear in outcomes, logs or messages.
 */
export type SyncOutcome =
  | { kind: 'synced'; changed: string[]; rotated: boolean; managers: string[] }
  | { kind: 'unchanged'; rotated: false; managers: string[] }
  | { kind: 'skipped'; reason: 'dry-run'; changed: string[]; rotate: boolean; managers: string[] }
  | { kind: 'refused'; reason: 'no-reachable-managers'; detail: string };

/** Rotate when asked, or when the stored token is older than the maximum age (0: never). */
export function rotationDue(
  stored: StoredParameter | undefined,
  maxAgeDays: number,
  now: Date,
  forced: boolean,
): boolean {
  if (forced) return true;
  if (maxAgeDays <= 0 || !stored?.lastModified) return false;
  return now.getTime() - stored.lastModified.getTime() > maxAgeDays * 86_400_000;
}

export interface SyncJoinTokensDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'inspectSwarm' | 'updateSwarm'>;
  parameters: ParameterStore;
  notifier: Notifier;
  clock: { now(): Date };
  settings: { settingsPrefix: string; joinTokenMaxAgeDays: number };
}

export async function syncJoinTokens(
  deps: SyncJoinTokensDeps,
  input: { rotate: boolean; dryRun: boolean; log: Logger },
): Promise<{ outcomes: SyncOutcome[] }> {
  const names = joinParameterNames(deps.settings.settingsPrefix);
  const [nodes, stored] = await Promise.all([
    deps.swarm.listNodes(),
    deps.parameters.get([names.worker, names.manager, names.managers]),
  ]);
  const managers = managerAddresses(nodes);
  if (managers.length === 0) {
    return {
      outcomes: [
        {
          kind: 'refused',
          reason: 'no-reachable-managers',
          detail: 'no reachable manager reported an address',
        },
      ],
    };
  }
  let info = await deps.swarm.inspectSwarm();
  const rotate = rotationDue(
    stored.get(names.worker),
    deps.settings.joinTokenMaxAgeDays,
    deps.clock.now(),
    input.rotate,
  );
  if (input.dryRun) {
    const changed = wanted(info.joinTokens, managers, names)
      .filter(([n, v]) => stored.get(n)?.value !== v)
      .map(([n]) => n);
    return { outcomes: [{ kind: 'skipped', reason: 'dry-run', changed, rotate, managers }] };
  }
  if (rotate) {
    await deps.swarm.updateSwarm(info, { rotateTokens: true });
    info = await deps.swarm.inspectSwarm();
    input.log.info('join tokens rotated');
  }
  const changed: string[] = [];
  for (const [name, value, kind] of wanted(info.joinTokens, managers, names)) {
    if (stored.get(name)?.value === value) continue;
    await deps.parameters.put(name, value, kind);
    changed.push(name);
  }
  if (rotate) {
    await deps.notifier.notify({
      severity: 'info',
      title: 'Swarm join tokens rotated',
      text: `New tokens are in SSM (${names.worker}, ${names.manager}); the old ones no longer let nodes join.`,
    });
  }
  if (changed.length === 0) return { outcomes: [{ kind: 'unchanged', rotated: false, managers }] };
  return { outcomes: [{ kind: 'synced', changed, rotated: rotate, managers }] };
}

function wanted(
  tokens: { worker: string; manager: string },
  managers: string[],
  names: ReturnType<typeof joinParameterNames>,
): Array<[string, string, 'SecureString' | 'String']> {
  return [
    [names.worker, tokens.worker, 'SecureString'],
    [names.manager, tokens.manager, 'SecureString'],
    [names.managers, managers.join(','), 'String'],
  ];
}
