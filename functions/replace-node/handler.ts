import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { createCloudInstances } from '../../shared/adapters/ec2';
import type { RootLogger } from '../../shared/adapters/logger';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import { dryRunParam, httpEdge, parseQuery } from '../../shared/edge/http';
import { type ReplaceNodeDeps, type ReplaceOutcome, replaceNodes } from './replace-node';
import { type ReplaceRequest as Parsed, parseReplaceRequest } from './request';

const query = z.looseObject({
  dryRun: dryRunParam,
});

export interface HandlerDeps extends ReplaceNodeDeps {
  settings: Settings & ReplaceNodeDeps['settings'];
  logger: RootLogger;
  tokens: () => Promise<readonly string[]>;
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge<Parsed, ReplaceOutcome>({
    name: 'replace-node',
    settings: deps.settings,
    logger: deps.logger,
    tokens: deps.tokens,
    parse: (payload) => parseReplaceRequest(payload, deps.settings.maxAlerts),
    handle: async (input, { query: raw, log }) => {
      const dryRun = deps.settings.dryRun || parseQuery(query, raw).dryRun;
      return replaceNodes(deps, { ...input, dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { settings } = rt;
  const cloud =
    settings.cloud === 'aws' && settings.clusterTag
      ? createCloudInstances(rt.aws.ec2, settings.clusterTag)
      : undefined;
  return {
    settings,
    logger: rt.logger,
    tokens: () => rt.secrets.webhookTokens(),
    swarm: createSwarmNodes(rt.managers),
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
