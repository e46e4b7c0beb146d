import { z } from 'zod';
import { ValidationError } from '../../shared/errors';
import { httpEdge, webhookPayload } from '../../shared/http';
import type { Logger } from '../../shared/logger';
import { postJson } from '../../shared/notifier';
import { runtime } from '../../shared/runtime';
import type { Settings } from '../../shared/settings';
import { type NotifyDeps, notifyGroup } from './notify';

const notifyQuery = z.looseObject({
  dryRun: z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).optional(),
});

export function readQuery(query: Readonly<Record<string, string>>): { dryRun?: boolean } {
  const parsed = notifyQuery.safeParse(query);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `query parameter ${i.path.join('.')}: ${i.message}`);
    throw new ValidationError(issues.join('; '), issues);
  }
  const { dryRun } = parsed.data;
  return { dryRun: dryRun === undefined ? undefined : dryRun === 'true' || dryRun === '1' };
}

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
      const { dryRun } = readQuery(query);
      // A dry-run setting cannot be switched off by a caller.
      return notifyGroup(deps, { webhook, dryRun: deps.settings.dryRun || dryRun === true, log });
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
