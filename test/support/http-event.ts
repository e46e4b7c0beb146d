/**
 * API Gateway HTTP API (payload v2.0) events, as the deployed route and `npm start` hand them
 * to a handler, and AWS SDK errors as the SDK throws them.
 */
export interface HttpEventInput {
  /** The raw body: a string is sent as UTF-8, bytes as they are. */
  body: string | Uint8Array;
  /** The Authorization header; undefined sends none. */
  authorization?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  path?: string;
}

export function httpEvent(input: HttpEventInput) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...input.headers };
  if (input.authorization !== undefined) headers.authorization = input.authorization;
  const query = input.query ?? {};
  const rawQueryString = new URLSearchParams(query).toString();
  const path = input.path ?? '/';
  return {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString,
    headers,
    queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
    requestContext: { http: { method: 'POST', path }, stage: '$default' },
    // Base64, as API Gateway sends bodies it does not know to be text: every byte arrives as sent.
    body: Buffer.from(input.body).toString('base64'),
    isBase64Encoded: true,
  };
}

export const bearer = (token: string) => `Bearer ${token}`;

/** An error shaped like the AWS SDK v3's service exceptions (what the adapters look at: name). */
export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: name === 'AccessDenied' || name === 'AccessDeniedException' ? 403 : 400 },
  });
}

/** An authenticated API Gateway event carrying a firing Alertmanager webhook with these alerts' labels. */
export function webhookEvent(
  token: string,
  alerts: ReadonlyArray<Record<string, string>>,
  query?: Record<string, string>,
) {
  return httpEvent({
    authorization: bearer(token),
    query,
    body: JSON.stringify({
      version: '4',
      status: 'firing',
      alerts: alerts.map((labels) => ({ status: 'firing', labels })),
    }),
  });
}
