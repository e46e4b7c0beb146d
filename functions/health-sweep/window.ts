/**
 * "Report once without a database": true for exactly one sweep of a series spaced by
 * `intervalMs` — the one whose last interval contains the moment `elapsedMs` reached
 * `thresholdMs`. With `everyMs`, also for the moments threshold + k×every (k = 1, 2, …);
 * an `everyMs` shorter than the interval means every sweep. Never before the threshold.
 */
export function crossedWithin(
  elapsedMs: number,
  thresholdMs: number,
  intervalMs: number,
  everyMs?: number,
): boolean {
  if (!(elapsedMs >= thresholdMs)) return false;
  const past = elapsedMs - thresholdMs;
  if (everyMs === undefined) return past < intervalMs;
  return past % Math.max(everyMs, intervalMs) < intervalMs;
}

/** Which crossing (1 = the first) `elapsedMs` is in, for a finding that repeats every `everyMs`. */
export function crossingNumber(elapsedMs: number, thresholdMs: number, intervalMs: number, everyMs: number) {
  return Math.floor((elapsedMs - thresholdMs) / Math.max(everyMs, intervalMs)) + 1;
}
