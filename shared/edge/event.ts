import { PayloadTooLargeError, ValidationError } from '../domain/errors';

/**
 * What a function receives, whichever way it was called: through API Gateway (an HTTP API
 * payload v2.0 event, also what `npm start` produces) or invoked directly with the raw
 * webhook as the event (console tests, the sweep). Direct invocations are authorised by
 * IAM (lambda:InvokeFunction), so they carry no token.
 */
export type InboundRequest =
  | {
      kind: 'http';
      method: string;
      path: string;
      headers: Readonly<Record<string, string>>;
      query: Readonly<Record<string, string>>;
      /** Raw body bytes; checked against the size limit before anything parses them. */
      body: Buffer;
    }
  | { kind: 'direct'; payload: unknown };

interface HttpApiEvent {
  version: '2.0';
  rawPath?: string;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { http: { method: string; path?: string } };
}

function isHttpApiEvent(event: unknown): event is HttpApiEvent {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as { version?: unknown; requestContext?: { http?: { method?: unknown } } };
  return e.version === '2.0' && typeof e.requestContext?.http?.method === 'string';
}

export function readEvent(event: unknown): InboundRequest {
  if (!isHttpApiEvent(event)) return { kind: 'direct', payload: event };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
  const raw = event.body ?? '';
  return {
    kind: 'http',
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath ?? event.requestContext.http.path ?? '/',
    headers,
    query,
    body: Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8'),
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
