import {
  type AlertmanagerWebhook,
  type AlertReading,
  parseScaleWord,
  readAlerts,
  readScaleLabel,
  type ScaleRequest,
} from '../../shared/domain/alerts';
import { DependencyUnavailableError } from '../../shared/domain/errors';
import { LAST_SCALE_LABEL, SCALED_AT_LABEL } from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import { isSwarmObjectName, quote } from '../../shared/domain/names';
import { retryAttempt } from '../../shared/domain/retry';
import type { SwarmServices } from '../../shared/domain/swarm';
import type { DistributiveOmit } from '../../shared/domain/types';
import { decideScale, type IgnoreReason, type SkipReason } from './decide';

/** `up`/`down` move by the service's own step labels; a signed integer is that exact delta. */
export type { ScaleRequest };

export type ScaleOutcome =
  | { kind: 'scaled'; alert: string; service: string; from: number; to: number }
  | {
      kind: 'skipped';
      alert: string;
      service: string;
      reason: SkipReason;
      detail: string;
      from?: number;
      to?: number;
    }
  | { kind: 'ignored'; alert: string; service?: string; reason: IgnoreReason; detail: string };

/** A scale word for replicas: `up`, `down`, or a non-zero signed integer of at most 4 digits. */
export const parseScale = (value: string): ScaleRequest | undefined => parseScaleWord(value, 4);

export interface Overrides {
  service?: string;
  scale?: ScaleRequest;
}

type AlertRequest = { ref: string; service: string; scale: ScaleRequest };

/** What one firing alert asks for; labels first, URL query parameters override them. */
export function readAlert(
  labels: Readonly<Record<string, string>>,
  ref: string,
  overrides: Overrides,
): AlertReading<AlertRequest, Exclude<IgnoreReason, 'resolved' | 'global-mode'>> {
  const service = overrides.service ?? labels.service;
  if (service === undefined || service === '') {
    return { ignore: 'no-service-label', detail: 'the alert has no service label' };
  }
  if (!isSwarmObjectName(service)) {
    return {
      ignore: 'invalid-service-label',
      detail: `service label ${quote(service)} is not a valid Swarm service name`,
    };
  }
  const scale = readScaleLabel(labels, parseScale, overrides.scale);
  return 'ignore' in scale ? scale : { read: { ref, service, scale: scale.read } };
}

export interface ScaleServiceDeps {
  swarm: Pick<SwarmServices, 'inspectService' | 'updateService'>;
  clock: { now(): Date };
  settings: { scaleCooldownSeconds: number; updateAttempts: number };
  /** For the retry backoff; tests pass fast ones. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface ScaleServiceInput {
  webhook: AlertmanagerWebhook;
  overrides: Overrides;
  dryRun: boolean;
  log: Logger;
}

/** Services handled at once within one request: enough for storms, gentle on the manager. */
const CONCURRENCY = 4;

export async function scaleService(
  deps: ScaleServiceDeps,
  input: ScaleServiceInput,
): Promise<{ dryRun: boolean; outcomes: ScaleOutcome[] }> {
  const { read, ignored } = readAlerts(input.webhook, (labels, ref) =>
    readAlert(labels, ref, input.overrides),
  );
  const outcomes: ScaleOutcome[] = [...ignored];
  const groups = new Map<string, { refs: string[]; requests: ScaleRequest[] }>();
  for (const request of read) {
    const group = groups.get(request.service) ?? { refs: [], requests: [] };
    group.refs.push(request.ref);
    group.requests.push(request.scale);
    groups.set(request.service, group);
  }

  const entries = [...groups.entries()];
  const perService = await mapLimit(entries, CONCURRENCY, ([service, group]) =>
    decideAndApply(deps, input, service, group.requests),
  );
  entries.forEach(([service, group], i) => {
    const outcome = perService[i];
    if (!outcome) return;
    const log = input.log.child({ service });
    log.info('decision', { audit: true, alerts: group.refs, ...outcome, alert: undefined });
    for (const ref of group.refs) outcomes.push({ ...outcome, alert: ref } as ScaleOutcome);
  });
  return { dryRun: input.dryRun, outcomes };
}

type ServiceOutcome = DistributiveOmit<ScaleOutcome, 'alert'>;

async function decideAndApply(
  deps: ScaleServiceDeps,
  input: ScaleServiceInput,
  service: string,
  requests: ScaleRequest[],
): Promise<ServiceOutcome> {
  const signs = new Set(
    requests.map((r) => Math.sign(r.kind === 'delta' ? r.delta : r.direction === 'up' ? 1 : -1)),
  );
  if (signs.size > 1) {
    return {
      kind: 'skipped',
      service,
      reason: 'conflicting-alerts',
      detail: 'alerts in this request ask to scale both up and down',
    };
  }
  const lost: LostAnswer = {};
  return retryAttempt(
    { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
    () => attempt(deps, input, { service, requests, lost }),
  );
}

/**
 * An update whose answer was lost (the connection dropped after Docker applied it) is
 * recognised on the re-read by the labels it wrote, so that the outcome says it scaled.
 */
interface LostAnswer {
  update?: { at: string; change: string; from: number; to: number };
}

/** One read, one decision, and (unless a dry run) one versioned update. */
async function attempt(
  deps: ScaleServiceDeps,
  input: ScaleServiceInput,
  { service, requests, lost }: { service: string; requests: ScaleRequest[]; lost: LostAnswer },
): Promise<ServiceOutcome> {
  const state = await deps.swarm.inspectService(service);
  if (!state) return { kind: 'skipped', service, reason: 'not-found', detail: `no service named ${service}` };
  const { update } = lost;
  if (
    update &&
    state.labels[SCALED_AT_LABEL] === update.at &&
    state.labels[LAST_SCALE_LABEL] === update.change
  ) {
    return { kind: 'scaled', service, from: update.from, to: update.to };
  }
  const now = deps.clock.now();
  const decision = decideScale(state, requests, now, deps.settings.scaleCooldownSeconds);
  if (decision.kind === 'ignore')
    return { kind: 'ignored', service, reason: decision.reason, detail: decision.detail };
  if (decision.kind === 'skip')
    return { kind: 'skipped', service, reason: decision.reason, detail: decision.detail };
  const { from, to } = decision;
  if (input.dryRun) {
    return {
      kind: 'skipped',
      service,
      reason: 'dry-run',
      detail: `would scale from ${from} to ${to}`,
      from,
      to,
    };
  }
  const labels = { [SCALED_AT_LABEL]: now.toISOString(), [LAST_SCALE_LABEL]: `${from}->${to}` };
  try {
    await deps.swarm.updateService(state, { replicas: to, labels });
  } catch (error) {
    // No answer is not no change; a refused version (a conflict) is.
    lost.update =
      error instanceof DependencyUnavailableError
        ? { at: labels[SCALED_AT_LABEL], change: labels[LAST_SCALE_LABEL], from, to }
        : undefined;
    throw error;
  }
  return { kind: 'scaled', service, from, to };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
