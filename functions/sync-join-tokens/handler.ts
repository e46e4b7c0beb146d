import type { Handler, ScheduledEvent } from 'aws-lambda';
import * as z from 'zod';
import type { RootLogger } from '../../shared/adapters/logger';
import { createParameterStore } from '../../shared/adapters/ssm';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import { SettingsError, ValidationError } from '../../shared/domain/errors';
import type { HandlerResult } from '../../shared/edge/http';
import { scheduledEdge } from '../../shared/edge/scheduled';
import { type SyncJoinTokensDeps, type SyncOutcome, syncJoinTokens } from './sync-join-tokens';

/** The EventBridge schedule's event, or a direct invocation: `{}`, `{"rotate": true}`, `{"dryRun": true}`. */
const syncEvent = z.union([
  z
    .looseObject({ source: z.literal('aws.events'), 'detail-type': z.string() })
    .transform(() => ({ rotate: false, dryRun: false })),
  z
    .strictObject({ rotate: z.boolean().optional(), dryRun: z.boolean().optional() })
    .transform((e) => ({ rotate: e.rotate === true, dryRun: e.dryRun === true })),
]);

export function parseSyncEvent(event: unknown): { rotate: boolean; dryRun: boolean } {
  const parsed = syncEvent.safeParse(event ?? {});
  if (!parsed.success) {
    throw new ValidationError('expected a schedule event, {}, {"rotate": true} or {"dryRun": true}');
  }
  return parsed.data;
}

export interface HandlerDeps extends SyncJoinTokensDeps {
  logger: RootLogger;
  dryRun: boolean;
}

export function makeHandler(deps: HandlerDeps) {
  return scheduledEdge<{ rotate: boolean; dryRun: boolean }, SyncOutcome>({
    name: 'sync-join-tokens',
    logger: deps.logger,
    parse: parseSyncEvent,
    // Upkeep, not remediation: new nodes must keep finding a manager and a valid token while paused.
    paused: false,
    handle: (input, log) => syncJoinTokens(deps, { ...input, dryRun: deps.dryRun || input.dryRun, log }),
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { managers } = swarmAccess(rt);
  const { settings } = rt;
  if (settings.settingsPrefix === undefined) {
    throw new SettingsError(
      'invalid settings: SETTINGS_PREFIX must be set for sync-join-tokens (where the tokens go)',
    );
  }
  return {
    logger: rt.logger,
    dryRun: settings.dryRun,
    swarm: createSwarmNodes(managers),
    parameters: createParameterStore(rt.ssm),
    notifier: rt.notifier('sync-join-tokens'),
    clock: { now: () => new Date() },
    settings: { settingsPrefix: settings.settingsPrefix, joinTokenMaxAgeDays: settings.joinTokenMaxAgeDays },
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  ScheduledEvent | { rotate?: boolean; dryRun?: boolean },
  HandlerResult<SyncOutcome>
>;
