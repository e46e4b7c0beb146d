import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { createWorkerGroup } from '../../shared/adapters/autoscaling';
import { autoScalingClient } from '../../shared/adapters/aws-clients';
import { createSwarmNodes, createSwarmTasks } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import {
  dryRunParam,
  type HttpDeps,
  httpEdge,
  type PauseDeps,
  parseQuery,
  webhookPayload,
} from '../../shared/edge/http';
import { type NodeScaleRequest, parseNodeScale } from './decide-node-scale';
import { type ScaleNodesDeps, scaleNodes } from './scale-nodes';

/** `?scale=` overrides the alerts' scale label (the Jenkins `aws-scale?scale=1` form). */
const nodeQuery = z.looseObject({
  scale: z
    .string()
    .refine((v) => parseNodeScale(v) !== undefined, 'must be up, down or a non-zero signed integer')
    .optional(),
  dryRun: dryRunParam,
});

export function readNodeQuery(query: Readonly<Record<string, string>>): {
  override?: NodeScaleRequest;
  dryRun: boolean;
} {
  const { scale, dryRun } = parseQuery(nodeQuery, query);
  return { override: scale === undefined ? undefined : parseNodeScale(scale), dryRun };
}

export interface HandlerDeps extends ScaleNodesDeps, HttpDeps, PauseDeps {
  settings: Settings;
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge({
    name: 'scale-nodes',
    deps,
    parse: webhookPayload(deps.settings),
    query: readNodeQuery,
    paused: deps.paused ?? false,
    handle: async (webhook, { query: { override, dryRun }, log }) => {
      return scaleNodes(deps, { webhook, override, dryRun: deps.settings.dryRun || dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { managers, pause } = swarmAccess(rt);
  const { settings } = rt;
  const group =
    settings.cloud === 'aws' && settings.workerAsgName
      ? createWorkerGroup(autoScalingClient, settings.workerAsgName)
      : undefined;
  return {
    ...rt.http,
    paused: () => pause.read(),
    swarm: createSwarmNodes(managers),
    tasks: createSwarmTasks(managers),
    group,
    notifier: rt.notifier('scale-nodes'),
    clock: { now: () => new Date() },
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  APIGatewayProxyEventV2 | AlertmanagerWebhook,
  APIGatewayProxyStructuredResultV2
>;
