import type { LogFields, Logger, LogLevel } from '../domain/log';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: {
  level?: LogLevel;
  base?: LogFields;
  sink?: (line: string) => void;
  now?: () => Date;
}): Logger {
  const min = rank[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const make = (base: LogFields): Logger => {
    const write = (level: LogLevel, message: string, fields?: LogFields) => {
      if (rank[level] < min) return;
      sink(serialize({ level, time: now().toISOString(), message, ...base, ...fields }));
    };
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      always: (f) => sink(serialize({ time: now().toISOString(), ...base, ...f })),
      child: (f) => make({ ...base, ...f }),
    };
  };
  return make(options.base ?? {});
}

function serialize(record: LogFields): string {
  return JSON.stringify(record, (_key, value: unknown) =>
    value instanceof Error ? describeError(value) : value,
  );
}

function describeError(error: Error, depth = 0): LogFields {
  const out: LogFields = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (error.stack) out.stack = error.stack.split('\n').slice(0, 6).join('\n');
  if (error.cause instanceof Error && depth < 3) out.cause = describeError(error.cause, depth + 1);
  else if (error.cause !== undefined) out.cause = String(error.cause);
  return out;
}
