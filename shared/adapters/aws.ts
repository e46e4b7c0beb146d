import { DependencyUnavailableError } from '../domain/errors';

/**
 * Every AWS failure (throttling, access denied, a 5xx, the network) is a dependency that
 * cannot be used now: 503, and a later retry finishes the job. The error keeps its cause.
 */
export function awsUnavailable(error: unknown, doing: string): DependencyUnavailableError {
  const name = (error as { name?: string })?.name ?? 'Error';
  return new DependencyUnavailableError('aws', `${doing}: AWS answered ${name}`, { cause: error });
}

/** Where an adapter gets its SDK client: built (and its module loaded) on first use, once per container. */
export type ClientSource<C> = () => C | Promise<C>;
