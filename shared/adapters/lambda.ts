import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { ClientSource } from './aws';

/** Loaded on first use (esbuild keeps a dynamic import lazy): a path that never calls it never pays for it. */
const sdk = () => import('@aws-sdk/client-lambda');

import type { Dispatcher, DispatchResult } from '../domain/cloud';
import { DependencyUnavailableError } from '../domain/errors';
import { awsUnavailable } from './aws';

/**
 * Asynchronous Lambda invocations (`InvocationType: 'Event'`): Lambda queues the event and
 * answers 202; retries and the failure destination are the invoked function's business. A
 * function left unset is reported, not invoked.
 */
export function createLambdaDispatcher(
  client: ClientSource<LambdaClient>,
  functions: { replaceNode: string | undefined; syncJoinTokens: string | undefined },
): Dispatcher {
  const invoke = async (
    name: string | undefined,
    setting: string,
    payload: unknown,
  ): Promise<DispatchResult> => {
    if (name === undefined)
      return { dispatched: false, detail: `nothing was dispatched: ${setting} is not set` };
    let status: number | undefined;
    try {
      const answer = await (await client()).send(
        new (await sdk()).InvokeCommand({
          FunctionName: name,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
      );
      status = answer.StatusCode;
    } catch (error) {
      throw awsUnavailable(error, `invoking ${name}`);
    }
    if (status !== 202) {
      throw new DependencyUnavailableError(
        'aws',
        `invoking ${name}: Lambda answered ${status ?? 'no status'}, not 202`,
      );
    }
    return { dispatched: true, to: name };
  };
  return {
    replaceNode: (nodeId) => invoke(functions.replaceNode, 'REPLACE_NODE_FUNCTION', { node: nodeId }),
    replaceInstance: (instanceId) =>
      invoke(functions.replaceNode, 'REPLACE_NODE_FUNCTION', { instance: instanceId }),
    syncJoinTokens: () => invoke(functions.syncJoinTokens, 'SYNC_JOIN_TOKENS_FUNCTION', {}),
  };
}

/** Without AWS (`npm run sweep`, on-prem): dispatches nothing, and says so in the finding. */
export function reportOnlyDispatcher(why: string): Dispatcher {
  const result: DispatchResult = { dispatched: false, detail: `nothing was dispatched: ${why}` };
  return {
    replaceNode: async () => result,
    replaceInstance: async () => result,
    syncJoinTokens: async () => result,
  };
}
