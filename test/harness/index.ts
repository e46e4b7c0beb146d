/**
 * Real swarms and a real Alertmanager for integration tests.
 *
 * The swarm itself lives in local/swarm (npm start uses it too); this re-exports it.
 * Nothing here imports vitest (it throws when imported outside a test run), so scripts such
 * as `npm run fuzz` can use this module too: tests hand in their own `describe`.
 */
import { alertmanagerUnavailableReason } from './alertmanager';
import { prometheusUnavailableReason } from './prometheus';
import { harnessUnavailableReason } from './swarm';

export * from './alertmanager';
export * from './free-port';
export * from './swarm';

export type HarnessNeed = 'swarm' | 'alertmanager' | 'prometheus';

/** The part of vitest's `describe` we use; vitest's own `describe` fits. */
export interface SuiteLike {
  (name: string, fn: () => void): unknown;
  skipIf(condition: boolean): (name: string, fn: () => void) => unknown;
}

/** Why the real harness cannot run here, or undefined when it can. */
export function realHarnessUnavailableReason(needs: readonly HarnessNeed[] = ['swarm']): string | undefined {
  const reasons = [
    needs.includes('swarm') ? harnessUnavailableReason() : undefined,
    needs.includes('alertmanager') ? alertmanagerUnavailableReason() : undefined,
    needs.includes('prometheus') ? prometheusUnavailableReason() : undefined,
  ].filter((reason): reason is string => reason !== undefined);
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/**
 * `describe` for suites that need real daemons. Where they cannot run, the suite is skipped
 * with the reason in its name, except under CI (CI=true), where a missing harness fails the
 * file: there it means the pipeline is broken, not that the suite does not apply.
 *
 *   const describeReal = requireRealHarness(describe, ['swarm', 'alertmanager']);
 *   describeReal('scale-service against a real swarm', () => { ... });
 */
export function requireRealHarness(
  describe: SuiteLike,
  needs: readonly HarnessNeed[] = ['swarm'],
): (name: string, fn: () => void) => void {
  const reason = realHarnessUnavailableReason(needs);
  if (reason === undefined) return (name, fn) => void describe(name, fn);
  if (process.env.CI === 'true') {
    throw new Error(`CI=true but the real integration harness cannot run here: ${reason}`);
  }
  return (name, fn) => void describe.skipIf(true)(`${name} (skipped: ${reason})`, fn);
}
export * from './bootstrap';
export * from './chat-receiver';
export * from './docker-proxy';
export * from './exporter';
export * from './prometheus';
export * from './prometheus-rules';
export * from './service-state';
