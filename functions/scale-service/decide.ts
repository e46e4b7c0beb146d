import type { ScaleRequest } from '../../shared/domain/alerts';
import { SCALED_AT_LABEL } from '../../shared/domain/labels';
import { quote } from '../../shared/domain/names';
import type { ServiceState } from '../../shared/domain/swarm';

/**
 * The pure decision for one service: its opt-in policy (the com.df.* labels), the cooldown
 * (the scaled-at label) and the bounds give the next replica count, or why not.
 */
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
