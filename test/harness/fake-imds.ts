/**
 * A fake IMDSv2 on 127.0.0.1 (HttpTokens=required: a PUT for a token first), answering
 * instance-id and local-ipv4 for the node bootstrap, and recording every request.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ImdsRequest {
  method: string;
  path: string;
  /** The PUT carried a valid TTL header, or the GET a token this server issued. */
  authorized: boolean;
  status: number;
}

export interface FakeImds {
  url: string;
  requests: ImdsRequest[];
  close(): Promise<void>;
}

export async function startFakeImds(opts: {
  instanceId: string;
  privateIp: string;
  failFirst: number;
}): Promise<FakeImds> {
  const requests: ImdsRequest[] = [];
  const tokens = new Set<string>();
  let failuresLeft = opts.failFirst;
  const metadata: Record<string, string> = {
    '/latest/meta-data/instance-id': opts.instanceId,
    '/latest/meta-data/local-ipv4': opts.privateIp,
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const reply = (status: number, body: string, authorized: boolean): void => {
      requests.push({ method: req.method ?? '', path, authorized, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    };
    if (failuresLeft > 0) {
      failuresLeft--;
      reply(500, 'Internal Server Error', false);
    } else if (path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (req.method !== 'PUT') {
        reply(405, 'Method Not Allowed', false);
      } else if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) {
        reply(400, 'Bad Request', false);
      } else {
        const token = `imds-${randomBytes(16).toString('hex')}`;
        tokens.add(token);
        reply(200, token, true);
      }
    } else {
      const token = req.headers['x-aws-ec2-metadata-token'];
      const authorized = typeof token === 'string' && tokens.has(token);
      const value = metadata[path];
      if (req.method !== 'GET') reply(405, 'Method Not Allowed', authorized);
      // IMDSv2 only (HttpTokens=required): no token, no answer.
      else if (!authorized) reply(401, 'Unauthorized', false);
      else if (value === undefined) reply(404, 'Not Found', true);
      else reply(200, value, true);
    }
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the fake IMDS has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
