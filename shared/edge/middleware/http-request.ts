import * as z from 'zod';
import type { HttpRequest } from './state';

const values = z.record(z.string(), z.string().optional());

/**
 * The part of an HTTP API (payload format 2.0) or Function URL event (`APIGatewayProxyEventV2`
 * in @types/aws-lambda) the edge reads; both
 * services send the same shape. Anything else is a direct invocation. Checked by schema, not
 * by casting: a field of the wrong type makes the event a direct one, which the function's own
 * validation then refuses.
 */
const httpEvent = z.looseObject({
  version: z.literal('2.0'),
  rawPath: z.string().optional(),
  headers: values.optional(),
  queryStringParameters: values.optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
  requestContext: z.looseObject({ http: z.looseObject({ method: z.string(), path: z.string().optional() }) }),
});

export function readHttpRequest(event: unknown): HttpRequest | undefined {
  const parsed = httpEvent.safeParse(event);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  return {
    method: e.requestContext.http.method.toUpperCase(),
    path: e.rawPath ?? e.requestContext.http.path ?? '/',
    headers: defined(e.headers, (k) => k.toLowerCase()),
    query: defined(e.queryStringParameters, (k) => k),
    body: Buffer.from(e.body ?? '', e.isBase64Encoded ? 'base64' : 'utf8'),
  };
}

function defined(
  from: Record<string, string | undefined> | undefined,
  key: (k: string) => string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(from ?? {})) if (v !== undefined) out[key(k)] = v;
  return out;
}
