import * as z from 'zod';
import { PayloadTooLargeError, ValidationError } from '../../domain/errors';
import { checkOptions, edgeState } from './state';

const options = z.strictObject({
  maxBytes: z
    .int()
    .min(1)
    .max(10 * 1024 * 1024),
});

/**
 * Bounds and parses an HTTP body: the size is checked on the raw bytes before anything decodes
 * them, then UTF-8 (strict), then JSON. A direct invocation's event is the payload as it is.
 * Our own and not middy's http-json-body-parser: that one answers 415/422, and this contract
 * answers 400 and 413 with our error body.
 */
export function boundedJsonBody(opts: { maxBytes: number }) {
  const { maxBytes } = checkOptions('boundedJsonBody', options, opts);
  return {
    before: (request: { event: unknown; context: object }): void => {
      const state = edgeState(request.context);
      state.payload = state.http === undefined ? request.event : parseJsonBody(state.http.body, maxBytes);
    },
  };
}

/** Size check, then JSON; throws PayloadTooLargeError or ValidationError, nothing else. */
export function parseJsonBody(body: Buffer, maxBytes: number): unknown {
  if (body.length > maxBytes) throw new PayloadTooLargeError(maxBytes, body.length);
  if (body.length === 0) throw new ValidationError('body is empty: expected an Alertmanager webhook (JSON)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new ValidationError('body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ValidationError(`body is not JSON: ${(error as Error).message.slice(0, 120)}`);
  }
}
