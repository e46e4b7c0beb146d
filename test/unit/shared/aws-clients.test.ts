import { createServer, type Server, type Socket } from 'node:net';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_CLIENT_OPTIONS } from '../../../shared/adapters/aws-clients';

/** An endpoint that accepts connections and never answers (a path without NAT drops them likewise). */
let server: Server;
let port = 0;
const sockets = new Set<Socket>();
beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('the SDK clients the functions build', () => {
  it('give up on an endpoint that never answers within the request timeout, not at the Lambda timeout', async () => {
    const ssm = new SSMClient({
      ...AWS_CLIENT_OPTIONS,
      endpoint: `http://127.0.0.1:${port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const started = Date.now();
    const outcome = await Promise.race([
      ssm.send(new GetParametersCommand({ Names: ['/x'] })).then(
        () => 'answered',
        (error: unknown) => (error instanceof Error ? error.name : 'failed'),
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 8_000)),
    ]);
    ssm.destroy();
    expect(outcome).not.toBe('still waiting');
    expect(outcome).not.toBe('answered');
    expect(Date.now() - started).toBeLessThan(AWS_CLIENT_OPTIONS.requestHandler.requestTimeout + 2_000);
  }, 15_000);
});
