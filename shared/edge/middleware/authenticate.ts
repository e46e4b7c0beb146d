import * as z from 'zod';
import { checkBearer } from '../auth';
import { checkOptions, edgeState, fn } from './state';

const options = z.strictObject({ tokens: fn<() => Promise<readonly string[]>>() });

/**
 * Before anything is parsed, and before Docker is ever asked: an HTTP caller must present one
 * of the accepted tokens. Direct invocations are authorised by IAM (lambda:InvokeFunction) and
 * carry none. `tokens` may read SSM, so it may fail with a retryable error (503).
 */
export function authenticate(opts: { tokens: () => Promise<readonly string[]> }) {
  const { tokens } = checkOptions('authenticate', options, opts);
  return {
    before: async (request: { context: object }): Promise<void> => {
      const { http } = edgeState(request.context);
      if (http !== undefined) checkBearer(http.headers.authorization, await tokens());
    },
  };
}
