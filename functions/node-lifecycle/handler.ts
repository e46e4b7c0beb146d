import type { EventBridgeEvent, Handler, ScheduledEvent } from 'aws-lambda';
import { createInstanceGroups } from '../../shared/adapters/autoscaling';
import { autoScalingClient, ec2Client } from '../../shared/adapters/aws-clients';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createLifecycleActions } from '../../shared/adapters/lifecycle';
import type { RootLogger } from '../../shared/adapters/logger';
import { createSwarmNodes, createSwarmTasks } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import { SettingsError } from '../../shared/domain/errors';
import type { HandlerResult, PauseDeps } from '../../shared/edge/http';
import { scheduledEdge } from '../../shared/edge/scheduled';
import { type LifecycleRequest, parseLifecycleRequest } from './events';
import {
  type LifecycleOutcome,
  type NodeLifecycleDeps,
  nodeLifecycle,
  pausedLifecycle,
} from './node-lifecycle';

export interface HandlerDeps extends NodeLifecycleDeps, PauseDeps {
  logger: RootLogger;
  /** DRY_RUN: plans only, whatever the event. */
  dryRun: boolean;
}

export function makeHandler(deps: HandlerDeps) {
  return scheduledEdge<LifecycleRequest, LifecycleOutcome>({
    name: 'node-lifecycle',
    logger: deps.logger,
    parse: parseLifecycleRequest,
    // Events and the reconcile pass alike: while paused nothing is drained, removed or completed.
    paused: deps.paused ? { check: deps.paused, outcome: pausedLifecycle } : false,
    handle: (request, log) => nodeLifecycle(deps, { request, dryRun: deps.dryRun, log }),
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { settings } = rt;
  if (settings.cloud !== 'aws' || settings.clusterTag === undefined) {
    throw new SettingsError('invalid settings: node-lifecycle needs CLOUD=aws and CLUSTER_TAG (key=value)');
  }
  const { managers, pause } = swarmAccess(rt);
  return {
    logger: rt.logger,
    paused: () => pause.read(),
    dryRun: settings.dryRun,
    swarm: createSwarmNodes(managers),
    tasks: createSwarmTasks(managers),
    instances: createCloudInstances(ec2Client, settings.clusterTag),
    lifecycle: createLifecycleActions(autoScalingClient),
    groups: createInstanceGroups(autoScalingClient),
    notifier: rt.notifier('node-lifecycle'),
    clock: { now: () => new Date() },
    settings: { ...settings, clusterTag: settings.clusterTag },
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  EventBridgeEvent<string, unknown> | ScheduledEvent | { reconcile?: true; dryRun?: boolean },
  HandlerResult<LifecycleOutcome>
>;
