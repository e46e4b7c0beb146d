/**
 * What one invocation of a function knows about itself, for the adapters under it: when
 * Lambda stops it (from the context's getRemainingTimeInMillis), and which manager answered.
 * A Lambda container runs one invocation at a time; the edge sets these at its start.
 */
let deadline: number | undefined;
let manager: string | undefined;

/** Time kept back from Lambda's deadline to answer and log: no new Docker attempt starts in it. */
export const DEADLINE_MARGIN_MS = 1_000;

/** The edge, at the start of an invocation: its Lambda context, if it has one. */
export function beginInvocation(context: { getRemainingTimeInMillis(): number } | undefined): void {
  deadline = context ? Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined;
  manager = undefined;
}

/** No new attempt at reaching a dependency starts after this (epoch ms); undefined: no deadline known. */
export function invocationDeadline(): number | undefined {
  return deadline;
}

export function noteManager(endpoint: string): void {
  manager = endpoint;
}

/** The manager that served this invocation's last Docker request. */
export function answeringManager(): string | undefined {
  return manager;
}
