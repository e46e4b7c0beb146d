import { DependencyUnavailableError } from './errors';

/**
 * Every AWS failure (throttling, access denied, a 5xx, the network) is a dependency that
 * cannot be used now: 503, and a later retry finishes the job. The error keeps its cause.
 */
export function awsUnavailable(error: unknown, doing: string): DependencyUnavailableError {
  const name = (error as { name?: string })?.name ?? 'Error';
  return new DependencyUnavailableError('aws', `${doing}: AWS answered ${name}`, { cause: error });
}

export function awsErrorName(error: unknown): string {
  return (error as { name?: string; Code?: string })?.name ?? (error as { Code?: string })?.Code ?? '';
}
