import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../domain/errors';

/**
 * Checks `Authorization: Bearer <token>` or Basic auth (any user, password = token) against
 * the accepted tokens. Digests are compared so every comparison takes the same time
 * whatever the lengths, and every token is compared so the position of a match leaks nothing.
 */
export function checkBearer(authorization: string | undefined, tokens: readonly string[]): void {
  if (tokens.length === 0) throw new AuthError('no webhook token is configured');
  const presented = presentedToken(authorization);
  if (presented === undefined) throw new AuthError('missing or malformed Authorization header');
  const digest = sha256(presented);
  let match = false;
  for (const token of tokens) {
    if (timingSafeEqual(digest, sha256(token))) match = true;
  }
  if (!match) throw new AuthError('invalid credentials');
}

function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 4_096) return undefined;
  const [scheme, value, ...rest] = header.trim().split(/\s+/);
  if (value === undefined || rest.length > 0) return undefined;
  switch (scheme?.toLowerCase()) {
    case 'bearer':
      return value;
    case 'basic': {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : undefined;
    }
    default:
      return undefined;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
