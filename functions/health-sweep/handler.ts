import type { Handler, ScheduledEvent } from 'aws-lambda';
import * as z from 'zod';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { autoScalingClient, ec2Client, lambdaClient } from '../../shared/adapters/aws-clients';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLambdaDispatcher, reportOnlyDispatcher } from '../../shared/adapters/lambda';
import type { RootLogger } from '../../shared/adapters/logger';
import { createParameterStore } from '../../shared/adapters/ssm';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import { ValidationError } from '../../shared/domain/errors';
import { invocationDeadline } from '../../shared/domain/invocation';
import type { HandlerResult } from '../../shared/edge/http';
import { scheduledEdge } from '../../shared/edge/scheduled';
import { type Finding, type HealthSweepDeps, sweep } from './health-sweep';

export interface SweepRequest {
  dryRun: boolean;
  /** The schedule's time, for a scheduled run. */
  scheduledAt: Date | undefined;
}

/** The EventBridge schedule's event, or a direct invocation: `{}` or `{"dryRun": true}`. */
const sweepEvent = z.union([
  z
    .looseObject({ source: z.literal('aws.events'), 'detail-type': z.string(), time: z.iso.datetime() })
    .transform((e) => ({ dryRun: false, scheduledAt: new Date(e.time) })),
  z
    .strictObject({ dryRun: z.boolean().optional() })
    .transform((e) => ({ dryRun: e.dryRun === true, scheduledAt: undefined })),
]);

export function parseSweepEvent(event: unknown): SweepRequest {
  const parsed = sweepEvent.safeParse(event ?? {});
  if (!parsed.success) throw new ValidationError('expected a schedule event, {} or {"dryRun": true}');
  return parsed.data;
}

/** A scheduled time this far from now is not this sweep's (a replay, a wrong clock): use now. */
const SCHEDULE_SKEW_MS = 15 * 60_000;

/**
 * The sweep's time. Consecutive scheduled events are exactly one interval apart, however late
 * Lambda runs them, so the "report once" windows of consecutive sweeps neither overlap nor
 * leave gaps. A direct invocation uses now.
 */
export function sweepTime(scheduledAt: Date | undefined, now: Date): Date {
  if (scheduledAt === undefined) return now;
  return Math.abs(now.getTime() - scheduledAt.getTime()) <= SCHEDULE_SKEW_MS ? scheduledAt : now;
}

export interface HandlerDeps extends HealthSweepDeps {
  logger: RootLogger;
  dryRun: boolean;
}

export function makeHandler(deps: HandlerDeps) {
  return scheduledEdge<SweepRequest, Finding>({
    name: 'health-sweep',
    logger: deps.logger,
    parse: parseSweepEvent,
    // The sweep reads the pause itself: it keeps reporting, and dispatches and changes nothing.
    paused: false,
    handle: (input, log) =>
      sweep(deps, {
        at: sweepTime(input.scheduledAt, deps.clock.now()),
        dryRun: deps.dryRun || input.dryRun,
        log,
        deadline: invocationDeadline(),
      }),
    countBy: (f) => ({ kind: f.kind, reason: f.action }),
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { managers, pause } = swarmAccess(rt);
  const { settings } = rt;
  const docker = managers;
  const dispatchTo = {
    replaceNode: settings.replaceNodeFunction,
    syncJoinTokens: settings.syncJoinTokensFunction,
  };
  return {
    logger: rt.logger,
    dryRun: settings.dryRun,
    nodes: createSwarmNodes(docker),
    services: createSwarmServices(docker),
    tasks: createSwarmTasks(docker),
    group:
      settings.cloud === 'aws' && settings.workerAsgName
        ? createWorkerGroup(autoScalingClient, settings.workerAsgName)
        : undefined,
    replacements:
      settings.cloud === 'aws' && settings.clusterTag
        ? {
            list: createCloudInstances(ec2Client, settings.clusterTag).listReplacements,
          }
        : undefined,
    dispatcher:
      dispatchTo.replaceNode || dispatchTo.syncJoinTokens
        ? createLambdaDispatcher(lambdaClient, dispatchTo)
        : reportOnlyDispatcher('REPLACE_NODE_FUNCTION and SYNC_JOIN_TOKENS_FUNCTION are not set'),
    joinParameters:
      settings.settingsPrefix === undefined
        ? { notChecked: 'SETTINGS_PREFIX is not set' }
        : {
            settingsPrefix: settings.settingsPrefix,
            store: createParameterStore(rt.ssm),
          },
    pause,
    notifier: rt.notifier('health-sweep'),
    clock: { now: () => new Date() },
    settings,
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  ScheduledEvent | { dryRun?: boolean },
  HandlerResult<Finding>
>;
