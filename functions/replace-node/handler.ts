import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { createCloudInstances } from '../../shared/adapters/ec2';
import type { RootLogger } from '../../shared/adapters/logger';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import { type AlertmanagerWebhook, alertRef, parseWebhook } from '../../shared/domain/alerts';
import { ValidationError } from '../../shared/domain/errors';
import { dryRunParam, httpEdge, parseQuery } from '../../shared/edge/http';
import {
  parseTarget,
  type ReplaceNodeDeps,
  type ReplaceNodeInput,
  type ReplaceOutcome,
  replaceNodes,
  type Target,
} from './replace-node';

/** A direct invocation (the sweep, the console): `{ "node": "<id or hostname>" }` or `{ "instance": "i-…" }`. */
const directTarget = z.strictObject({
  node: z.string().max(253).optional(),
  instance: z.string().max(300).optional(),
});

type Parsed = Omit<ReplaceNodeInput, 'dryRun' | 'log'>;

export function parseReplaceRequest(
  payload: unknown,
  maxAlerts: number,
): { input: Parsed; logKeys?: Record<string, unknown> } {
  const isWebhook = typeof payload === 'object' && payload !== null && 'alerts' in payload;
  if (!isWebhook) {
    const direct = directTarget.safeParse(payload);
    if (!direct.success || (direct.data.node === undefined) === (direct.data.instance === undefined)) {
      throw new ValidationError(
        'expected an Alertmanager webhook, or {"node": "<node ID or hostname>"} or {"instance": "<EC2 instance ID or host:port>"}',
      );
    }
    const target = parseTarget(direct.data);
    if (!target || 'invalid' in target)
      throw new ValidationError(
        `${target?.invalid ?? 'target'} is not a node ID, hostname, instance ID or address`,
      );
    return { input: { targets: [{ ref: 'direct', target }], ignored: [] } };
  }
  const webhook = parseWebhook(payload, maxAlerts);
  const targets: Array<{ ref: string; target: Target }> = [];
  const ignored: Parsed['ignored'][number][] = [];
  webhook.alerts.forEach((alert, i) => {
    const ref = alertRef(alert, i);
    if (alert.status !== 'firing') {
      ignored.push({
        kind: 'ignored',
        alert: ref,
        reason: 'resolved',
        detail: 'only firing alerts are acted on',
      });
      return;
    }
    const target = parseTarget(alert.labels);
    if (target === undefined) {
      ignored.push({
        kind: 'ignored',
        alert: ref,
        reason: 'no-target-label',
        detail: 'the alert has no node or instance label',
      });
    } else if ('invalid' in target) {
      ignored.push({
        kind: 'ignored',
        alert: ref,
        reason: 'invalid-target-label',
        detail: `${target.invalid} is not a node ID, hostname, instance ID or address`,
      });
    } else {
      targets.push({ ref, target });
    }
  });
  return { input: { targets, ignored }, logKeys: { groupKey: webhook.groupKey, receiver: webhook.receiver } };
}

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
