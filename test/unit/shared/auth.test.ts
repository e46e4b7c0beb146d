import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../../shared/domain/errors';
import { checkBearer as authenticate } from '../../../shared/edge/auth';

const tokens = ['first-token-0123456789', 'second-token-0123456789'];

describe('authenticate', () => {
  it('accepts a Bearer token and Basic auth whose password is a token', () => {
    expect(() => authenticate('Bearer first-token-0123456789', tokens)).not.toThrow();
    expect(() => authenticate('bearer second-token-0123456789', tokens)).not.toThrow();
    const basic = Buffer.from('anyone:second-token-0123456789').toString('base64');
    expect(() => authenticate(`Basic ${basic}`, tokens)).not.toThrow();
  });

  it('refuses missing, malformed and wrong credentials with an AuthError', () => {
    const wrongBasic = Buffer.from('first-token-0123456789').toString('base64');
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer first-token-012345678',
      'Bearer first-token-0123456789x',
      `Basic ${wrongBasic}`,
      'Digest abc',
      `Bearer ${'a'.repeat(5000)}`,
    ]) {
      expect(() => authenticate(header, tokens), String(header)).toThrow(AuthError);
    }
  });

  it('refuses everything when no token is configured', () => {
    expect(() => authenticate('Bearer first-token-0123456789', [])).toThrow(/no webhook token/);
  });

  it('only ever throws AuthError, whatever the header', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        try {
          authenticate(header, tokens);
        } catch (error) {
          expect(error).toBeInstanceOf(AuthError);
        }
      }),
    );
  });
});
