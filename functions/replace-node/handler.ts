import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { ec2Client } from '../../shared/adapters/aws-clients';
import { createCloudInstances } from '../../shared/adapters/ec2';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import { dryRunParam, type HttpDeps, httpEdge, parseQuery } from '../../shared/edge/http';
import { type ReplaceNodeDeps, type ReplaceOutcome, replaceNodes } from './replace-node';
import { type ReplaceRequest as Parsed, parseReplaceRequest } from './request';

const query = z.looseObject({
  dryRun: dryRunParam,
});

export interface HandlerDeps extends ReplaceNodeDeps, HttpDeps {
  settings: Settings & ReplaceNodeDeps['settings'];
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge<Parsed, ReplaceOutcome>({
    name: 'replace-node',
    deps,
    parse: (payload) => parseReplaceRequest(payload, deps.settings.maxAlerts),
    handle: async (input, { query: raw, log }) => {
      const dryRun = deps.settings.dryRun || parseQuery(query, raw).dryRun;
      return replaceNodes(deps, { ...input, dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { managers } = swarmAccess(rt);
  const { settings } = rt;
  const cloud =
    settings.cloud === 'aws' && settings.clusterTag
      ? createCloudInstances(ec2Client, settings.clusterTag)
      : undefined;
  return {
    ...rt.http,
    swarm: createSwarmNodes(managers),
    cloud,
    notifier: rt.notifier('replace-node'),
    clock: { now: () => new Date() },
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  APIGatewayProxyEventV2 | AlertmanagerWebhook | { node: string } | { instance: string },
  APIGatewayProxyStructuredResultV2
>;
