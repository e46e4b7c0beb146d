import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/scale-service/handler';
import { createDockerClient } from '../../shared/adapters/docker';
import { createLogger } from '../../shared/adapters/logger';
import { createSwarmServices } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import { freePort } from '../harness';

const TOKEN = 'integration-token-0123456789';
const body = readFileSync(
  new URL('../../events/scale-service/webhook-scale-up.json', import.meta.url),
  'utf8',
);

function handlerFor(dockerHost: string, timeoutMs = '1000') {
  const settings = parseSettings({
    WEBHOOK_TOKENS: TOKEN,
    DOCKER_HOST: dockerHost,
    DOCKER_TIMEOUT_MS: timeoutMs,
  });
  const docker = createDockerClient(settings.docker);
  return makeHandler({
    settings,
    logger: createLogger({ level: 'error', sink: () => {} }),
    tokens: async () => settings.webhookTokens,
    swarm: createSwarmServices(async () => docker),
    clock: { now: () => new Date() },
  });
}

const event = {
  version: '2.0',
  headers: { authorization: `Bearer ${TOKEN}` },
  requestContext: { http: { method: 'POST' } },
  body,
};

describe('scale-service when Docker cannot be reached (real dockerode, real sockets)', () => {
  it('answers 503 with retry for a socket that does not exist', async () => {
    const response = await handlerFor('unix:///nonexistent/swarm-reflex.sock')(event);
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'DependencyUnavailableError', retry: true });
  });

  it('answers 503 for a TCP port where nothing listens', async () => {
    const port = await freePort();
    const response = await handlerFor(`tcp://127.0.0.1:${port}`)(event);
    expect(response.statusCode).toBe(503);
  });

  it('answers 503 when the Docker API accepts the connection but never answers', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as import('node:net').AddressInfo;
    try {
      const response = await handlerFor(`tcp://127.0.0.1:${port}`, '300')(event);
      expect(response.statusCode).toBe(503);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
