import type { DispatchResult, StoredParameter } from '../../shared/domain/cloud';
import { joinParameterNames, managerAddresses } from '../../shared/domain/join-parameters';
import type { NodeState } from '../../shared/domain/swarm';
import { type Context, holding } from './context';
import type { Decision, Finding } from './findings';
import { errorText } from './wording';

/** Stale manager addresses for joining nodes: sync-join-tokens is dispatched to write them again. */
export interface JoinTokensSync {
  readonly base: { kind: 'join-tokens'; severity: 'warning'; subject: string; since: string | null };
  readonly what: string;
}

const iso = (d: Date | undefined) => (d === undefined ? null : d.toISOString());

export function joinTokensNotChecked(why: string): Finding {
  return {
    kind: 'join-tokens',
    severity: 'info',
    subject: 'manager-addresses',
    since: null,
    action: 'not-checked',
    detail: `the manager addresses new nodes join with were not checked: ${why}`,
  };
}

export function joinTokensUnread(name: string, error: unknown): Finding {
  return {
    kind: 'join-tokens',
    severity: 'warning',
    subject: name,
    since: null,
    action: 'read-failed',
    detail: `could not read ${name}: ${errorText(error)}`,
  };
}

/** The stored addresses against the reachable managers' (`want`); nothing to say when they agree. */
export function classifyManagerAddresses(
  name: string,
  want: string,
  stored: StoredParameter | undefined,
  dryRun: boolean,
  paused = false,
): Decision<JoinTokensSync> | undefined {
  if (stored?.value === want) return undefined;
  const what =
    stored === undefined
      ? `${name} is missing; new nodes could not find a manager to join (reachable: ${want})`
      : `${name} lists ${stored.value || '(nothing)'}, but the reachable managers are ${want}`;
  const base = {
    kind: 'join-tokens' as const,
    severity: 'warning' as const,
    subject: name,
    since: iso(stored?.lastModified),
  };
  const hold = holding({ dryRun, paused });
  if (hold)
    return {
      finding: {
        ...base,
        action: hold.action,
        detail: `${what}: would dispatch sync-join-tokens (${hold.why}).`,
      },
    };
  return { apply: { base, what } };
}

export function syncDispatched({ base, what }: JoinTokensSync, sent: DispatchResult): Finding {
  return sent.dispatched
    ? { ...base, action: 'dispatched', detail: `${what}: dispatched sync-join-tokens (${sent.to}).` }
    : { ...base, action: 'not-dispatched', detail: `${what}: ${sent.detail}.` };
}

export function syncNotDispatched({ base, what }: JoinTokensSync, error: unknown): Finding {
  return {
    ...base,
    action: 'dispatch-failed',
    detail: `${what}: sync-join-tokens could not be dispatched (${errorText(error)}); the next sweep tries again.`,
  };
}

export async function joinTokens(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const { deps, input } = ctx;
  const where = deps.joinParameters;
  if ('notChecked' in where) return [joinTokensNotChecked(where.notChecked)];
  const name = joinParameterNames(where.settingsPrefix).managers;
  const want = managerAddresses(nodes).join(',');
  if (want === '') return [];
  let stored: StoredParameter | undefined;
  try {
    stored = (await where.store.get([name])).get(name);
  } catch (error) {
    input.log.error('reading the manager addresses failed', { error, parameter: name });
    return [joinTokensUnread(name, error)];
  }
  const decision = classifyManagerAddresses(name, want, stored, input.dryRun, ctx.moment.paused);
  if (decision === undefined) return [];
  if ('finding' in decision) return [decision.finding];
  try {
    return [syncDispatched(decision.apply, await deps.dispatcher.syncJoinTokens())];
  } catch (error) {
    input.log.error('dispatch failed', { error, to: 'sync-join-tokens' });
    return [syncNotDispatched(decision.apply, error)];
  }
}
