import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../../../shared/adapters/swarm';
import { DependencyUnavailableError } from '../../../shared/domain/errors';

/** What docker-modem rejects with for an answer it did not expect (its shape, its message). */
function modemError(statusCode: number, body: string): Error {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = Buffer.from(body);
  }
  const message = (json as { message?: string }).message ?? body;
  return Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), {
    statusCode,
    json,
  });
}

/** A dockerode stand-in whose every call is rejected with `error`. */
function failingDocker(error: Error): () => Promise<Docker> {
  const fail = async () => {
    throw error;
  };
  const docker = {
    getService: () => ({ inspect: fail }),
    listServices: fail,
    listNodes: fail,
    listTasks: fail,
  };
  return async () => docker as unknown as Docker;
}

describe('reading services, nodes and tasks', () => {
  it('reads a service ID prefix that Docker calls ambiguous as no such service', async () => {
    // What dockerd 20.10 answers to GET /services/v when two service IDs start with "v".
    const ambiguous = modemError(400, '{"message":"service v is ambiguous (2 matches found)"}');
    await expect(createSwarmServices(failingDocker(ambiguous)).inspectService('v')).resolves.toBeUndefined();
  });

  it('still refuses other 400 answers to an inspect: they are our bug, not an unknown service', async () => {
    const bug = modemError(400, '{"message":"invalid filter"}');
    await expect(createSwarmServices(failingDocker(bug)).inspectService('web')).rejects.toBe(bug);
  });

  // A list endpoint never answers 404 from a real manager: whatever did (a proxy routing the
  // path elsewhere) is not the swarm, and its answer must not read as "no services".
  it.each([
    ['services', (d: () => Promise<Docker>) => createSwarmServices(d).listServices()],
    ['nodes', (d: () => Promise<Docker>) => createSwarmNodes(d).listNodes()],
    ['tasks', (d: () => Promise<Docker>) => createSwarmTasks(d).listTasks()],
  ])('treats a 404 from the %s list as Docker unavailable, never as an empty list', async (what, list) => {
    const misrouted = modemError(404, '404 page not found\n');
    const read = list(failingDocker(misrouted));
    await expect(read).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(read).rejects.toThrow(new RegExp(`listing ${what}.*404`));
  });
});
