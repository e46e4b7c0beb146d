import { ReflexError } from '../../shared/domain/errors';

/** Human duration: 45 s, 5 min, 2 h 10 min. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1_000));
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** What a person may read about an error: our own errors' messages, never anything else's. */
export function errorText(error: unknown): string {
  return error instanceof ReflexError
    ? error.message
    : `unexpected error (${(error as Error)?.name ?? 'Error'})`;
}
