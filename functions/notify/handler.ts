import * as z from 'zod';
import { postJson } from '../../shared/adapters/chat';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { Logger } from '../../shared/domain/log';
import { dryRunParam, httpEdge, parseQuery, webhookPayload } from '../../shared/edge/http';
import { type NotifyDeps, notifyGroup } from './notify';

const notifyQuery = z.looseObject({ dryRun: dryRunParam });

export interface HandlerDeps extends NotifyDeps {
  settings: Settings;
  logger: Logger;
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

export const handler = makeHandler(defaultDeps());
