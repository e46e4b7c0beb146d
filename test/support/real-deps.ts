import { createNotifier } from '../../shared/adapters/chat';
import { createLogger } from '../../shared/adapters/logger';
import type { LogFields } from '../../shared/domain/log';

/** A logger that keeps its lines, for tests that look at what was logged. */
export function memoryLogger() {
  const lines: LogFields[] = [];
  return {
    lines,
    logger: createLogger({ level: 'debug', sink: (l) => lines.push(JSON.parse(l) as LogFields) }),
  };
}

/** The real notifier, posting to a real local HTTP receiver as a generic webhook and as Slack. */
export function realNotifier(source: string, urls: { webhook?: string; slack?: string }) {
  return createNotifier({
    source,
    targets: async () => [
      ...(urls.slack ? [{ kind: 'slack' as const, url: urls.slack }] : []),
      ...(urls.webhook ? [{ kind: 'webhook' as const, url: urls.webhook }] : []),
    ],
    timeoutMs: 2_000,
    log: createLogger({ level: 'error', sink: () => {} }),
  });
}
