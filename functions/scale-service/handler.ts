import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Handler } from 'aws-lambda';
import * as z from 'zod';
import { createSwarmServices } from '../../shared/adapters/swarm';
import { swarmAccess } from '../../shared/config/managers';
import { runtime } from '../../shared/config/runtime';
import type { Settings } from '../../shared/config/settings';
import type { AlertmanagerWebhook } from '../../shared/domain/alerts';
import { isSwarmObjectName } from '../../shared/domain/names';
import {
  dryRunParam,
  type HttpDeps,
  httpEdge,
  type PauseDeps,
  parseQuery,
  webhookPayload,
} from '../../shared/edge/http';
import { type Overrides, parseScale, type ScaleServiceDeps, scaleService } from './scale-service';

/** Query parameters of the webhook URL; the Jenkins `?service=…&scale=1` form keeps working. */
const scaleQuery = z.looseObject({
  service: z.string().refine(isSwarmObjectName, 'is not a valid Swarm service name').optional(),
  scale: z
    .string()
    .refine((v) => parseScale(v) !== undefined, 'must be up, down or a non-zero signed integer')
    .optional(),
  dryRun: dryRunParam,
});

export function readQuery(query: Readonly<Record<string, string>>): {
  overrides: Overrides;
  dryRun: boolean;
} {
  const { service, scale, dryRun } = parseQuery(scaleQuery, query);
  return { overrides: { service, scale: scale === undefined ? undefined : parseScale(scale) }, dryRun };
}

export interface HandlerDeps extends ScaleServiceDeps, HttpDeps, PauseDeps {
  settings: Settings;
}

export function makeHandler(deps: HandlerDeps) {
  return httpEdge({
    name: 'scale-service',
    deps,
    parse: webhookPayload(deps.settings),
    query: readQuery,
    paused: deps.paused ?? false,
    handle: async (webhook, { query: { overrides, dryRun }, log }) => {
      // A dry-run setting cannot be switched off by a caller.
      return scaleService(deps, { webhook, overrides, dryRun: deps.settings.dryRun || dryRun, log });
    },
  });
}

function defaultDeps(): HandlerDeps {
  const rt = runtime();
  const { managers, pause } = swarmAccess(rt);
  const swarm = createSwarmServices(managers);
  return {
    ...rt.http,
    paused: () => pause.read(),
    swarm,
    clock: { now: () => new Date() },
  };
}

/** Typed for Lambda (aws-lambda's Handler); it takes any event, since every input is validated at the edge. */
export const handler = makeHandler(defaultDeps()) satisfies Handler<
  APIGatewayProxyEventV2 | AlertmanagerWebhook,
  APIGatewayProxyStructuredResultV2
>;
