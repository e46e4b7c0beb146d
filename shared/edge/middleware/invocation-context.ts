import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { LogFields, Logger } from '../../domain/log';
import { readHttpRequest } from './http-request';
import { checkOptions, fn, startState } from './state';

export interface InvocationLogger {
  /** A logger bound to one invocation: the Lambda context's request id and cold start on every line. */
  forInvocation(context: Context | undefined, fields: LogFields): Logger;
}

const options = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a function name (lower-case, dashes)'),
  logger: z.looseObject({ forInvocation: fn<InvocationLogger['forInvocation']>() }),
});

/**
 * First in every pipeline: starts the invocation's state (its logger, carrying the request id
 * of the Lambda context, and its start time) and reads the event as an HTTP request when it is
 * one (API Gateway HTTP API or a Function URL, payload 2.0) or a direct invocation otherwise.
 * The invocation's deadline (from getRemainingTimeInMillis) is kept by `withInvocation`, which
 * wraps the whole pipeline, so that the adapters under the handler see it too.
 */
export function invocationContext(opts: { name: string; logger: InvocationLogger }) {
  const { name, logger } = checkOptions('invocationContext', options, opts);
  return {
    before: (request: { event: unknown; context: Context }): void => {
      startState(request.context, {
        started: Date.now(),
        log: logger.forInvocation(request.context, { function: name }),
        http: readHttpRequest(request.event),
        payload: request.event,
      });
    },
  };
}

/**
 * The context of an invocation that did not come from Lambda (`npm start`, `npm run sweep`,
 * tests): a request id of its own for the logs, and no deadline — the pipeline's deadline
 * comes from Lambda's context only (see `withInvocation`).
 */
export function localContext(functionName: string): Context {
  const unsupported = () => {
    throw new Error('not a Lambda invocation: callbacks are not supported');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LOCAL',
    invokedFunctionArn: `local:${functionName}`,
    memoryLimitInMB: '0',
    awsRequestId: `local-${randomUUID()}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Number.MAX_SAFE_INTEGER,
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
