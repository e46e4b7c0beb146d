import { InvokeCommand, type InvokeCommandInput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { recordAwsCall } from './aws-ledger';

/**
 * Lambda mocked at the SDK boundary: every Invoke is kept (function, invocation type, decoded
 * payload) and recorded in the ledger of AWS calls as `lambda:InvokeFunction` on the function
 * its name names (`swarm-reflex-<stage>-<function>`).
 */
export function fakeLambda() {
  const mock = mockClient(LambdaClient);
  const invocations: Array<{ functionName: string; type: string | undefined; payload: unknown }> = [];
  const hooks: { fail?: Error; status?: number } = {};
  mock.on(InvokeCommand).callsFake(async (input: InvokeCommandInput) => {
    const functionName = input.FunctionName ?? '';
    const name = /^swarm-reflex-[a-z0-9]+-(.+)$/.exec(functionName)?.[1] ?? functionName;
    recordAwsCall({ action: 'lambda:InvokeFunction', resource: { kind: 'function', name } });
    if (hooks.fail) throw hooks.fail;
    const payload = input.Payload
      ? JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))
      : undefined;
    invocations.push({ functionName, type: input.InvocationType, payload });
    return { StatusCode: hooks.status ?? (input.InvocationType === 'Event' ? 202 : 200) };
  });
  return { mock, invocations, hooks, client: () => new LambdaClient({ region: 'eu-west-1' }) };
}

export const throttled = () =>
  Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
