import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DependencyUnavailableError, QuorumLostError, VersionConflictError } from './errors';
import type { Settings } from './settings';

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/**
 * A dockerode client for `DOCKER_HOST` (unix socket or tcp, with TLS when DOCKER_TLS_VERIFY
 * is on). Created once per container by the function modules and reused across invocations.
 */
export function createDockerClient(docker: Settings['docker'], tls?: TlsMaterial): Docker {
  const timeout = docker.timeoutMs;
  if (docker.host.startsWith('unix://')) {
    return new Docker({ socketPath: docker.host.slice('unix://'.length), timeout });
  }
  const url = new URL(docker.host.replace(/^tcp:/, 'http:'));
  const material =
    tls ?? (docker.tlsVerify && docker.certPath !== undefined ? readTlsFiles(docker.certPath) : undefined);
  return new Docker({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port),
    protocol: material ? 'https' : 'http',
    ...(material ?? {}),
    timeout,
  });
}

function readTlsFiles(dir: string): TlsMaterial {
  return {
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
  };
}

interface DockerModemError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

/** What the daemon said (its JSON `message`), else the error's own message. */
export function dockerErrorMessage(error: unknown): string {
  const e = (error ?? {}) as DockerModemError;
  return e.json?.message ?? e.message ?? String(error);
}

/**
 * Turns what dockerode throws into our errors: "update out of sequence" is a version
 * conflict; no answer, a timeout or a server error means the swarm cannot be reached now
 * (503, Alertmanager retries). 404 is returned as 'not-found' for the caller to decide.
 * Anything else (a 4xx we caused) is rethrown as it is: it is a bug, not the swarm's state.
 */
export function classifyDockerError(error: unknown, doing: string): 'not-found' {
  const e = (error ?? {}) as DockerModemError;
  const detail = dockerErrorMessage(error);
  if (/update out of sequence/i.test(detail)) {
    throw new VersionConflictError(`${doing}: the object changed since it was read`, { cause: error });
  }
  if (/does not have a leader|too few managers are online/i.test(detail)) {
    throw new QuorumLostError(`${doing}: the swarm has no leader (${short(detail)})`, { cause: error });
  }
  if (e.statusCode === 404) return 'not-found';
  if (e.statusCode === undefined || e.statusCode >= 500) {
    throw new DependencyUnavailableError('docker', `${doing}: Docker API unavailable (${short(detail)})`, {
      cause: error,
    });
  }
  throw error;
}

function short(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 160 ? `${oneLine.slice(0, 160)}…` : oneLine;
}
