import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { createInstanceGroups } from '../../shared/adapters/autoscaling';
import { autoScalingClient, ec2Client } from '../../shared/adapters/aws-clients';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import { dryRunParam, type HttpDeps, httpEdge, type PauseDeps, parseQuery } from '../../shared/edge/http';
import { type ReplaceNodeDeps, replaceNodes } from './replace-node';
import { type ReplaceRequest as Parsed, parseReplaceRequest } from './request';

const query = z.looseObject({
  dryRun: dryRunParam,
});

export interface HandlerDeps extends ReplaceNodeDeps, HttpDeps, PauseDeps {
  settings: Settings & ReplaceNodeDeps['settings'];
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge({
    name: 'replace-node',
    deps,
    parse: (payload) => parseReplaceRequest(payload, deps.settings.maxAlerts),
    query: (raw) => parseQuery(query, raw),
    paused: deps.paused ?? false,
    handle: async (input: Parsed, { query: { dryRun }, log }) => {
      return replaceNodes(deps, { ...input, dryRun: deps.settings.dryRun || dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { managers, pause } = swarmAccess(rt);
  const { settings } = rt;
  const clusterTag = settings.cloud === 'aws' ? settings.clusterTag : undefined;
  return {
    ...rt.http,
    paused: () => pause.read(),
    swarm: createSwarmNodes(managers),
    cloud: clusterTag ? createCloudInstances(ec2Client, clusterTag) : undefined,
    groups: clusterTag ? createInstanceGroups(autoScalingClient) : undefined,
    notifier: rt.notifier('replace-node'),
    clock: { now: () => new Date() },
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  APIGatewayProxyEventV2 | AlertmanagerWebhook | { node: string } | { instance: string },
  APIGatewayProxyStructuredResultV2
>;
