/**
 * Structured JSON logs, one object per line, with correlation keys (function, groupKey,
 * fingerprint, service, node) carried by child loggers. CloudWatch indexes the fields.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Writes a line whatever the level: metrics and audit records must never be filtered out. */
  always(fields: LogFields): void;
  child(fields: LogFields): Logger;
}
