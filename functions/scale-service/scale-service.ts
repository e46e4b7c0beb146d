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
import type { ServiceState, SwarmServices } from '../../shared/domain/swarm';
import type { DistributiveOmit } from '../../shared/domain/types';

/** `up`/`down` move by the service's own step labels; a signed integer is that exact delta. */
export type { ScaleRequest };

export type SkipReason =
  | 'cooldown'
  | 'at-max'
  | 'at-min'
  | 'not-managed'
  | 'not-found'
  | 'invalid-labels'
  | 'conflicting-alerts'
  | 'dry-run';
export type IgnoreReason =
  | 'resolved'
  | 'no-service-label'
  | 'invalid-service-label'
  | 'no-scale-label'
  | 'invalid-scale-label'
  | 'global-mode';

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

export interface ScalePolicy {
  min: number;
  max: number;
  upBy: number;
  downBy: number;
  cooldownSeconds: number;
}

export const MIN_COOLDOWN_SECONDS = 5;
const MAX_COOLDOWN_SECONDS = 86_400;
const MAX_REPLICAS = 10_000;
/** Tolerated clock difference between the functions that wrote scaled-at and this one. */
const CLOCK_SKEW_MS = 60_000;

export type Decision =
  | { kind: 'scale'; from: number; to: number }
  | { kind: 'skip'; reason: Exclude<SkipReason, 'conflicting-alerts' | 'dry-run'>; detail: string }
  | { kind: 'ignore'; reason: 'global-mode'; detail: string };

/** A scale word for replicas: `up`, `down`, or a non-zero signed integer of at most 4 digits. */
export const parseScale = (value: string): ScaleRequest | undefined => parseScaleWord(value, 4);

type PolicyResult =
  | { kind: 'policy'; policy: ScalePolicy }
  | { kind: 'not-managed' }
  | { kind: 'invalid'; detail: string };

/** Reads the com.df.* labels. A service without com.df.scaleMax has not opted in. */
export function readPolicy(
  labels: Readonly<Record<string, string>>,
  defaultCooldownSeconds: number,
): PolicyResult {
  if (labels['com.df.scaleMax'] === undefined) return { kind: 'not-managed' };
  const problems: string[] = [];
  const read = (name: string, fallback: number, min: number, max: number): number => {
    const raw = labels[name];
    if (raw === undefined) return fallback;
    const n = /^\d{1,6}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${quote(raw, 20)} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
  const max = read('com.df.scaleMax', 0, 1, MAX_REPLICAS);
  const min = read('com.df.scaleMin', 1, 0, MAX_REPLICAS);
  const upBy = read('com.df.scaleUpBy', 1, 1, MAX_REPLICAS);
  const downBy = read('com.df.scaleDownBy', 1, 1, MAX_REPLICAS);
  const cooldownSeconds = read(
    'com.df.scaleCooldown',
    defaultCooldownSeconds,
    MIN_COOLDOWN_SECONDS,
    MAX_COOLDOWN_SECONDS,
  );
  if (problems.length === 0 && min > max)
    problems.push(`com.df.scaleMin (${min}) is above com.df.scaleMax (${max})`);
  if (problems.length > 0) return { kind: 'invalid', detail: problems.join('; ') };
  return { kind: 'policy', policy: { min, max, upBy, downBy, cooldownSeconds } };
}

/** The signed change one request asks for under a policy. */
export function deltaOf(request: ScaleRequest, policy: ScalePolicy): number {
  if (request.kind === 'delta') return request.delta;
  return request.direction === 'up' ? policy.upBy : -policy.downBy;
}

/**
 * The arithmetic: move by `delta`, never past the bounds. A service already outside its
 * bounds (scaled by hand) is only ever moved towards them.
 */
export function decideReplicas(
  current: number,
  delta: number,
  policy: Pick<ScalePolicy, 'min' | 'max'>,
): { kind: 'scale'; to: number } | { kind: 'at-max' | 'at-min' } {
  if (delta > 0 && current >= policy.max) return { kind: 'at-max' };
  if (delta < 0 && current <= policy.min) return { kind: 'at-min' };
  const to = Math.min(policy.max, Math.max(policy.min, current + delta));
  if (to === current) return { kind: delta > 0 ? 'at-max' : 'at-min' };
  return { kind: 'scale', to };
}

/** When the cooldown written by the last scale ends, or undefined if there is none in force. */
export function cooldownUntil(
  labels: Readonly<Record<string, string>>,
  cooldownSeconds: number,
  now: Date,
): Date | undefined {
  const raw = labels[SCALED_AT_LABEL];
  if (raw === undefined) return undefined;
  const at = Date.parse(raw);
  // A time we cannot read, or one far in the future, was not written by us: not a cooldown.
  if (Number.isNaN(at) || at > now.getTime() + CLOCK_SKEW_MS) return undefined;
  const until = at + cooldownSeconds * 1_000;
  return until > now.getTime() ? new Date(until) : undefined;
}

/** One decision for one service, from one read of it and every request that names it. */
export function decideScale(
  service: ServiceState,
  requests: readonly ScaleRequest[],
  now: Date,
  defaultCooldownSeconds: number,
): Decision {
  if (service.mode !== 'replicated' || service.replicas === undefined) {
    return {
      kind: 'ignore',
      reason: 'global-mode',
      detail: `service ${service.name} is not in replicated mode`,
    };
  }
  const policy = readPolicy(service.labels, defaultCooldownSeconds);
  if (policy.kind === 'not-managed') {
    return {
      kind: 'skip',
      reason: 'not-managed',
      detail: `service ${service.name} has no com.df.scaleMax label, so it is never scaled`,
    };
  }
  if (policy.kind === 'invalid') return { kind: 'skip', reason: 'invalid-labels', detail: policy.detail };
  const until = cooldownUntil(service.labels, policy.policy.cooldownSeconds, now);
  if (until) {
    return {
      kind: 'skip',
      reason: 'cooldown',
      detail: `scaled recently; cooling down until ${until.toISOString()}`,
    };
  }
  // Requests in one direction: the largest step wins (several alerts, one decision).
  const deltas = requests.map((r) => deltaOf(r, policy.policy));
  const delta = deltas.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
  const from = service.replicas;
  const step = decideReplicas(from, delta, policy.policy);
  if (step.kind === 'scale') return { kind: 'scale', from, to: step.to };
  const bound =
    step.kind === 'at-max'
      ? `com.df.scaleMax is ${policy.policy.max}`
      : `com.df.scaleMin is ${policy.policy.min}`;
  return { kind: 'skip', reason: step.kind, detail: `${from} replicas; ${bound}` };
}

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
  // An update whose answer was lost (the connection dropped after Docker applied it) is
  // recognised on the re-read by the labels it wrote, so that the outcome says it scaled.
  let unanswered: { at: string; change: string; from: number; to: number } | undefined;
  return retryAttempt(
    { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
    async (): Promise<ServiceOutcome> => {
      const state = await deps.swarm.inspectService(service);
      if (!state)
        return { kind: 'skipped', service, reason: 'not-found', detail: `no service named ${service}` };
      if (
        unanswered &&
        state.labels[SCALED_AT_LABEL] === unanswered.at &&
        state.labels[LAST_SCALE_LABEL] === unanswered.change
      ) {
        return { kind: 'scaled', service, from: unanswered.from, to: unanswered.to };
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
        unanswered =
          error instanceof DependencyUnavailableError
            ? { at: labels[SCALED_AT_LABEL], change: labels[LAST_SCALE_LABEL], from, to }
            : undefined;
        throw error;
      }
      return { kind: 'scaled', service, from, to };
    },
  );
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
