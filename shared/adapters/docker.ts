import Docker from 'dockerode';
import {
  DependencyUnavailableError,
  QuorumLostError,
  ReflexError,
  SettingsError,
  VersionConflictError,
} from '../domain/errors';
import { readTlsFiles, type TlsMaterial } from './tls-files';

/** How to reach one Docker API endpoint (a part of the settings). */
export interface DockerEndpoint {
  readonly host: string;
  readonly tlsVerify: boolean;
  readonly certPath: string | undefined;
  readonly timeoutMs: number;
}

/**
 * A dockerode client for `DOCKER_HOST` (unix socket or tcp). Over tcp it speaks TLS with the
 * material given (from SSM, see secrets), else with the files under DOCKER_CERT_PATH; with
 * DOCKER_TLS_VERIFY on and neither, it throws: never plain HTTP to a daemon that expects TLS.
 * The runtime builds one per container and a new one when the material changes.
 */
export function createDockerClient(docker: DockerEndpoint, tls?: TlsMaterial): Docker {
  const timeout = docker.timeoutMs;
  if (docker.host.startsWith('unix://')) {
    return new Docker({ socketPath: docker.host.slice('unix://'.length), timeout });
  }
  const url = new URL(docker.host.replace(/^tcp:/, 'http:'));
  const material =
    tls ?? (docker.tlsVerify && docker.certPath !== undefined ? readTlsFiles(docker.certPath) : undefined);
  if (docker.tlsVerify && material === undefined) {
    throw new SettingsError(
      `DOCKER_TLS_VERIFY is on but no TLS material was given for ${docker.host}: not connecting without TLS`,
    );
  }
  return new Docker({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port),
    protocol: material ? 'https' : 'http',
    ...(material ?? {}),
    timeout,
  });
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

/** Docker's InvalidParameter (400) for an ID prefix that more than one object starts with. */
const AMBIGUOUS = /is ambiguous \(\d+ matches found\)/i;

/**
 * Turns what dockerode throws into our errors: "update out of sequence" is a version
 * conflict; no answer, a timeout or a server error means the swarm cannot be reached now
 * (503, Alertmanager retries). 404 is returned as 'not-found' for the caller to decide, and
 * so is an ambiguous ID prefix (400): no object has exactly that name. Anything else (a 4xx
 * we caused) is rethrown as it is: it is a bug, not the swarm's state.
 */
export function classifyDockerError(error: unknown, doing: string): 'not-found' {
  // Already ours (the manager pool's verdict when no manager served the request): as it is.
  if (error instanceof ReflexError) throw error;
  const e = (error ?? {}) as DockerModemError;
  const detail = dockerErrorMessage(error);
  if (e.statusCode === 400 && AMBIGUOUS.test(detail)) return 'not-found';
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

/**
 * For a list (`GET /nodes`, `/services`, `/tasks`): a manager answers those with a list or an
 * error, never 404. A 404 comes from something else (a proxy routing the path elsewhere, not
 * a Docker API): Docker unavailable, never an empty swarm.
 */
export function classifyListError(error: unknown, doing: string): never {
  // Throws for everything but 'not-found'.
  classifyDockerError(error, doing);
  throw new DependencyUnavailableError(
    'docker',
    `${doing}: the Docker API answered 404 to a list, which a swarm manager never does (a misrouted proxy?): ${short(dockerErrorMessage(error))}`,
    { cause: error },
  );
}

function short(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 160 ? `${oneLine.slice(0, 160)}…` : oneLine;
}
