import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalResponse, LocalRoute } from './routes';

/** API Gateway's own payload limit; the functions apply their (smaller) limit themselves. */
const GATEWAY_MAX_BYTES = 10 * 1024 * 1024;

export interface LocalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves Lambda handlers over HTTP as API Gateway's HTTP API would: each request becomes a
 * payload v2.0 event (lower-case headers, repeated query values joined by commas, body in
 * base64 so every byte reaches the handler as sent).
 */
export async function startLocalServer(options: {
  routes: readonly LocalRoute[];
  port: number;
  host?: string;
  onRequest?: (line: string) => void;
}): Promise<LocalServer> {
  const handlers = new Map<string, Promise<(event: unknown) => Promise<LocalResponse>>>();
  const handlerFor = (route: LocalRoute) => {
    let h = handlers.get(route.path);
    if (!h) {
      h = route.load().then((m) => m.handler);
      handlers.set(route.path, h);
    }
    return h;
  };

  const server: Server = createServer((req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = options.routes.find((r) => r.path === url.pathname);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(body);
      options.onRequest?.(`${req.method} ${url.pathname} -> ${status} (${Date.now() - started} ms)`);
    };
    if (!route) return send(404, JSON.stringify({ message: 'Not Found' }));
    if (req.method !== route.method)
      return send(405, JSON.stringify({ message: 'Method Not Allowed' }), { allow: route.method });
    readBody(req)
      .then(async (body) => {
        if (body === undefined) return send(413, JSON.stringify({ message: 'Request Entity Too Large' }));
        const handler = await handlerFor(route);
        const response = await handler(toEvent(req, url, body, route));
        send(response.statusCode, response.body ?? '', response.headers ?? {});
      })
      .catch((error: unknown) => {
        // What Lambda does with an unhandled error: a bare 500, details in the logs only.
        process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
        if (!res.headersSent) send(500, JSON.stringify({ message: 'Internal Server Error' }));
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > GATEWAY_MAX_BYTES) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toEvent(req: IncomingMessage, url: URL, body: Buffer, route: LocalRoute) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
    requestContext: {
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      timeEpoch: Date.now(),
    },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}
