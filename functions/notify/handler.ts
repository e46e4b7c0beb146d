import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { postJson } from '../../shared/adapters/chat';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import { dryRunParam, type HttpDeps, httpEdge, parseQuery, webhookPayload } from '../../shared/edge/http';
import { type NotifyDeps, notifyGroup } from './notify';

const notifyQuery = z.looseObject({ dryRun: dryRunParam });

export interface HandlerDeps extends NotifyDeps, HttpDeps {
  settings: Settings;
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge({
    name: 'notify',
    deps,
    parse: webhookPayload(deps.settings),
    query: (raw) => parseQuery(notifyQuery, raw),
    // Not a remediation: messages keep going out while the pause is in force.
    paused: false,
    handle: async (webhook, { query: { dryRun }, log }) => {
      // A dry-run setting cannot be switched off by a caller.
      return notifyGroup(deps, { webhook, dryRun: deps.settings.dryRun || dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  return {
    ...rt.http,
    targets: () => rt.secrets.chatTargets(),
    post: postJson,
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  APIGatewayProxyEventV2 | AlertmanagerWebhook,
  APIGatewayProxyStructuredResultV2
>;
