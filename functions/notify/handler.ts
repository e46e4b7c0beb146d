import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { postJson } from '../../shared/adapters/chat';
import type { RootLogger } from '../../shared/adapters/logger';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import { dryRunParam, httpEdge, parseQuery, webhookPayload } from '../../shared/edge/http';
import { type NotifyDeps, notifyGroup } from './notify';

const notifyQuery = z.looseObject({ dryRun: dryRunParam });

export interface HandlerDeps extends NotifyDeps {
  settings: Settings;
  logger: RootLogger;
  tokens: () => Promise<readonly string[]>;
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge({
    name: 'notify',
    settings: deps.settings,
    logger: deps.logger,
    tokens: deps.tokens,
    parse: webhookPayload(deps.settings),
    handle: async (webhook, { query, log }) => {
      const { dryRun } = parseQuery(notifyQuery, query);
      // A dry-run setting cannot be switched off by a caller.
      return notifyGroup(deps, { webhook, dryRun: deps.settings.dryRun || dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  return {
    settings: rt.settings,
    logger: rt.logger,
    tokens: () => rt.secrets.webhookTokens(),
    targets: () => rt.secrets.chatTargets(),
    post: postJson,
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  APIGatewayProxyEventV2 | AlertmanagerWebhook,
  APIGatewayProxyStructuredResultV2
>;
