import { DependencyUnavailableError, QuorumLostError, VersionConflictError } from './errors';
import { invocationDeadline } from './invocation';

export interface RetryOptions {
  /** How many times a lost version race is decided again. */
  attempts: number;
  /** How many times a dependency that did not answer (Docker, AWS) is tried again. */
  transientAttempts?: number;
  /** No new try starts after this long: the function must answer within its Lambda timeout. */
  deadlineMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` (read, decide, write) again when it can succeed on a second try:
 * - the write lost a race (VersionConflictError): at once, with a short full-jitter wait so
 *   that concurrent deliveries spread out, up to `attempts` times;
 * - Docker or AWS did not answer or answered an error (DependencyUnavailableError): after an
 *   exponential full-jitter backoff, up to `transientAttempts` times and never past the
 *   deadline. A lost quorum is not transient and is not retried.
 * Each attempt reads again and decides again, so a retry resumes rather than repeats. When
 * it gives up, the last error goes out and maps to 503: Alertmanager retries, which is safe.
 */
export async function retryAttempt<T>(options: RetryOptions, attempt: (n: number) => Promise<T>): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  // Never past the invocation's own deadline (Lambda's remaining time), when the edge knows it.
  const deadline = Math.min(
    now() + (options.deadlineMs ?? 10_000),
    invocationDeadline() ?? Number.POSITIVE_INFINITY,
  );
  const transientAttempts = options.transientAttempts ?? 3;
  let conflicts = 0;
  let transients = 0;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      let wait: number;
      if (error instanceof VersionConflictError) {
        conflicts++;
        if (conflicts >= options.attempts) {
          throw new VersionConflictError(`gave up after ${options.attempts} conflicting updates`, {
            cause: error,
          });
        }
        wait = Math.floor(random() * Math.min(1_000, 25 * 2 ** conflicts));
      } else if (error instanceof DependencyUnavailableError && !(error instanceof QuorumLostError)) {
        transients++;
        if (transients > transientAttempts) throw error;
        wait = Math.floor(random() * Math.min(2_000, 200 * 2 ** transients));
        if (now() + wait > deadline) throw error;
      } else {
        throw error;
      }
      await sleep(wait);
    }
  }
}
