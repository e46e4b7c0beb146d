import type { ParameterStore } from '../domain/cloud';
import { joinParameterNames } from '../domain/join-parameters';
import type { Logger } from '../domain/log';

/** A failed SSM read is tried again this soon, not a whole TTL later. */
export const FAILED_READ_RETRY_MS = 30_000;

/**
 * The endpoints of the manager pool, in the order they are tried: DOCKER_HOST, SWARM_MANAGERS,
 * then — with SETTINGS_PREFIX — the managers sync-join-tokens keeps in
 * `<prefix>/swarm/manager-addresses` (their swarm address `host:2377`, reached on the Docker
 * API port `DOCKER_PORT` with the same TLS material: the managers' certificate must name them
 * all, or carry IP SANs). The SSM list is read with the secrets' TTL; when SSM cannot be read,
 * the last list read (or none) is used and the configured endpoints still serve, and SSM is
 * asked again after FAILED_READ_RETRY_MS (at most the TTL): a throttled read must not leave a
 * container on a stale list for the whole TTL.
 */
export function managerEndpoints(options: {
  host: string;
  managers: readonly string[];
  port: number;
  settingsPrefix: string | undefined;
  parameters: Pick<ParameterStore, 'get'> | undefined;
  ttlMs: number;
  now?: () => number;
  log?: Logger;
}): () => Promise<string[]> {
  const now = options.now ?? Date.now;
  const configured = [options.host, ...options.managers];
  let cached: { until: number; endpoints: string[] } | undefined;
  return async () => {
    const prefix = options.settingsPrefix;
    if (prefix === undefined || options.parameters === undefined) return unique(configured);
    if (!cached || now() >= cached.until) {
      const name = joinParameterNames(prefix).managers;
      try {
        const value = (await options.parameters.get([name])).get(name)?.value ?? '';
        cached = { until: now() + options.ttlMs, endpoints: fromAddresses(value, options.port) };
      } catch (error) {
        options.log?.warn('manager addresses not read from SSM; trying the configured managers', { error });
        cached = {
          until: now() + Math.min(options.ttlMs, FAILED_READ_RETRY_MS),
          endpoints: cached?.endpoints ?? [],
        };
      }
    }
    return unique([...configured, ...cached.endpoints]);
  };
}

/** `10.0.1.5:2377,10.0.2.7:2377` → `tcp://10.0.1.5:2376`, … (only well-formed hosts; IPv6 bracketed). */
export function fromAddresses(value: string, port: number): string[] {
  return value
    .split(',')
    .map((a) => a.trim())
    .map((a) => (a.startsWith('[') ? a.slice(0, a.indexOf(']') + 1) : (a.split(':')[0] ?? '')))
    .filter((host) => /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/.test(host))
    .map((host) => `tcp://${host}:${port}`);
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}
