import { VersionConflictError } from './errors';

export interface RetryOptions {
  attempts: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  baseMs?: number;
  capMs?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Optimistic concurrency: runs `attempt` (read, decide, write) again when the write lost a
 * race (VersionConflictError), up to `attempts` times, with full-jitter exponential backoff
 * so that concurrent deliveries spread out instead of colliding again. Gives up with the
 * last conflict, which maps to 503: Alertmanager then retries, which is safe.
 */
export async function retryOnConflict<T>(
  options: RetryOptions,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const base = options.baseMs ?? 25;
  const cap = options.capMs ?? 1_000;
  let last: unknown;
  for (let n = 1; n <= options.attempts; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      last = error;
      if (n < options.attempts) await sleep(Math.floor(random() * Math.min(cap, base * 2 ** n)));
    }
  }
  throw new VersionConflictError(`gave up after ${options.attempts} conflicting updates`, { cause: last });
}
