import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one invocation of a function knows about itself, for the adapters under it: when
 * Lambda stops it (from the context's getRemainingTimeInMillis), and which manager answered.
 * Kept per invocation (AsyncLocalStorage), so that overlapping requests — `npm start` serves
 * several at once — never see each other's; the edges run each invocation inside one.
 */
interface Invocation {
  readonly deadline: number | undefined;
  manager: string | undefined;
  /** What an adapter keeps for the rest of this invocation only (the logger bound to its request id). */
  readonly slots: Map<symbol, unknown>;
}

const current = new AsyncLocalStorage<Invocation>();

/** Time kept back from Lambda's deadline to answer and log: no new Docker attempt starts in it. */
export const DEADLINE_MARGIN_MS = 1_000;

/** The edge: runs one invocation, with its Lambda context if it has one. */
export function withInvocation<T>(
  context: { getRemainingTimeInMillis(): number } | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined;
  return current.run({ deadline, manager: undefined, slots: new Map() }, work);
}

/** No new attempt at reaching a dependency starts after this (epoch ms); undefined: no deadline known. */
export function invocationDeadline(): number | undefined {
  return current.getStore()?.deadline;
}

export function noteManager(endpoint: string): void {
  const invocation = current.getStore();
  if (invocation) invocation.manager = endpoint;
}

/** The manager that served this invocation's last Docker request. */
export function answeringManager(): string | undefined {
  return current.getStore()?.manager;
}

/** Keeps `value` for the rest of this invocation (nothing outside one). */
export function setInvocationSlot(key: symbol, value: unknown): void {
  current.getStore()?.slots.set(key, value);
}

/** What `setInvocationSlot` kept in this invocation under `key`. */
export function invocationSlot(key: symbol): unknown {
  return current.getStore()?.slots.get(key);
}
