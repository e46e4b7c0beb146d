/**
 * The error hierarchy. Each class says whether a later retry can succeed; the HTTP status
 * for each lives in ONE place, `statusFor` below, used by the HTTP edge only.
 */
export abstract class ReflexError extends Error {
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is not what the function accepts. The message is safe to show the caller. */
export class ValidationError extends ReflexError {
  readonly retryable = false;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class AuthError extends ReflexError {
  readonly retryable = false;
}

export class PayloadTooLargeError extends ReflexError {
  readonly retryable = false;
  constructor(
    readonly limitBytes: number,
    readonly actualBytes: number,
  ) {
    super(`body is ${actualBytes} bytes; the limit is ${limitBytes} bytes`);
  }
}

/** A setting is missing or malformed: the function cannot start. */
export class SettingsError extends ReflexError {
  readonly retryable = false;
}

/** Docker or AWS could not be reached or answered with a server error: try again later. */
export class DependencyUnavailableError extends ReflexError {
  readonly retryable = true;
  constructor(
    readonly dependency: 'docker' | 'aws' | 'chat',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The manager answered but the swarm has no leader: too few managers are reachable. No
 * write can succeed until a person restores quorum; retrying does not help.
 */
export class QuorumLostError extends DependencyUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('docker', message, options);
  }
}

/** Swarm refused an update because the object changed since it was read ("update out of sequence"). */
export class VersionConflictError extends ReflexError {
  readonly retryable = true;
}

export function awsErrorName(error: unknown): string {
  return (error as { name?: string; Code?: string })?.name ?? (error as { Code?: string })?.Code ?? '';
}

/** What the caller may see of an error: never a stack, never a cause. */
export function publicMessage(error: unknown): string {
  if (error instanceof ReflexError && !(error instanceof SettingsError)) return error.message;
  return 'internal error';
}
