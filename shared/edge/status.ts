import {
  AuthError,
  DependencyUnavailableError,
  PayloadTooLargeError,
  ValidationError,
  VersionConflictError,
} from '../domain/errors';

/** The ONE mapping from the error hierarchy to HTTP statuses, used by the HTTP edge only. */
export function statusFor(error: unknown): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof AuthError) return 401;
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof DependencyUnavailableError || error instanceof VersionConflictError) return 503;
  return 500;
}
