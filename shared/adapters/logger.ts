import { Logger as Powertools } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { invocationSlot, setInvocationSlot } from '../domain/invocation';
import type { LogFields, Logger, LogLevel } from '../domain/log';

/** The service name in every line (Powertools' `service` field). */
export const SERVICE_NAME = 'swarm-reflex';

/** The domain's logger, with what only the edge needs: a logger bound to one Lambda invocation. */
export interface RootLogger extends Logger {
  /**
   * A child for one invocation: the Lambda context's fields (function_request_id,
   * function_name, function_arn, function_memory_size) and cold_start — true for the first
   * invocation this container serves — on every line it and its children write.
   */
  forInvocation(context: Context | undefined, fields: LogFields): Logger;
}

type LineSink = (line: string) => void;

/**
 * Powertools Logger, writing to a sink instead of the console when one is given (tests,
 * `npm run sweep`). `printLog` is the extension point Powertools documents for this.
 */
class SinkLogger extends Powertools {
  sink: LineSink | undefined;

  protected override printLog(logLevel: number, log: Parameters<Powertools['printLog']>[1]): void {
    if (this.sink === undefined) super.printLog(logLevel, log);
    else this.sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }

  protected override createLogger(options?: ConstructorParameters<typeof Powertools>[0]): SinkLogger {
    const child = new SinkLogger(options);
    child.sink = this.sink;
    return child;
  }
}

/**
 * Structured JSON logs through Powertools Logger: one object per line with `level`, `message`,
 * `timestamp`, `service` and the Lambda context's fields, plus our correlation keys (function,
 * groupKey, service, node) carried by child loggers. Lines whose fields carry `audit: true`
 * (the decisions) and `always` lines are written whatever the level: an audit trail that a
 * LOG_LEVEL can switch off is none.
 */
export function createLogger(options: { level?: LogLevel; base?: LogFields; sink?: LineSink }): RootLogger {
  const root = new SinkLogger({
    serviceName: SERVICE_NAME,
    logLevel: (options.level ?? 'info').toUpperCase() as Uppercase<LogLevel>,
    persistentKeys: own(options.base),
  });
  root.sink = options.sink;
  // Loggers made before an invocation (the notifier's, the manager pool's) write through the
  // invocation's logger while one runs, so their lines carry its request id too.
  const slot = Symbol('invocation logger');
  const current = (): Powertools => {
    const bound = invocationSlot(slot);
    return bound instanceof Powertools ? bound : root;
  };
  let invocations = 0;
  return {
    ...wrap(current, {}),
    forInvocation(context, fields) {
      const child = root.createChild();
      if (context !== undefined) {
        child.addContext(context);
        // A child counts its own cold start; the container's is the one that matters.
        child.appendPersistentKeys({ cold_start: invocations === 0 });
      }
      invocations += 1;
      setInvocationSlot(slot, child);
      return wrap(() => child, own(fields));
    },
  };
}

/**
 * Powertools owns `service` (always swarm-reflex, the field every Powertools user filters on):
 * the Swarm service a line is about is written as `swarmService` instead of being dropped.
 */
function own(fields: LogFields | undefined): LogFields {
  if (fields === undefined) return {};
  if (!('service' in fields)) return fields;
  const { service, ...rest } = fields;
  return { ...rest, swarmService: service };
}

/** The INFO-level child of each logger, for the lines no level may filter. */
const unfiltered = new WeakMap<Powertools, Powertools>();

function always(logger: Powertools): Powertools {
  let child = unfiltered.get(logger);
  if (child === undefined) {
    child = logger.createChild({ logLevel: 'INFO' });
    unfiltered.set(logger, child);
  }
  return child;
}

/** The domain's Logger over whichever Powertools logger `base` names when a line is written. */
function wrap(base: () => Powertools, fields: LogFields): Logger {
  const line = (extra: LogFields | undefined) => ({ ...fields, ...own(extra) });
  return {
    debug: (message, extra) => base().debug(message, line(extra)),
    info: (message, extra) =>
      extra?.audit === true ? always(base()).info(message, line(extra)) : base().info(message, line(extra)),
    warn: (message, extra) => base().warn(message, line(extra)),
    error: (message, extra) => base().error(message, line(extra)),
    always: (extra) =>
      always(base()).info(typeof extra.metric === 'string' ? extra.metric : 'record', line(extra)),
    child: (extra) => wrap(base, line(extra)),
  };
}
