import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { recordAwsCall, relativeParameter } from './aws-ledger';

/** SSM Parameter Store mocked at the SDK boundary, with the parameters kept in a map. */
export function fakeSsm(clock: () => Date = () => new Date()) {
  const mock = mockClient(SSMClient);
  const store = new Map<string, { value: string; type: string; modified: Date }>();
  const hooks: {
    /** Every call fails with this error. */
    fail?: Error;
    /** Per call: an error for this call of this action (e.g. only the second PutParameter), or none. */
    failOn?: (action: 'GetParameters' | 'PutParameter') => Error | undefined;
  } = {};
  const failure = (action: 'GetParameters' | 'PutParameter') => hooks.fail ?? hooks.failOn?.(action);
  mock.on(GetParametersCommand).callsFake(async (input: { Names?: string[] }) => {
    for (const name of input.Names ?? []) {
      recordAwsCall({
        action: 'ssm:GetParameters',
        resource: { kind: 'ssm-parameter', relative: relativeParameter(name) },
      });
    }
    const failed = failure('GetParameters');
    if (failed) throw failed;
    const names = input.Names ?? [];
    return {
      Parameters: names
        .filter((n) => store.has(n))
        .map((n) => ({
          Name: n,
          Value: store.get(n)?.value,
          Type: store.get(n)?.type,
          LastModifiedDate: store.get(n)?.modified,
        })),
      InvalidParameters: names.filter((n) => !store.has(n)),
    };
  });
  mock.on(PutParameterCommand).callsFake(async (input: { Name?: string; Value?: string; Type?: string }) => {
    recordAwsCall({
      action: 'ssm:PutParameter',
      resource: { kind: 'ssm-parameter', relative: relativeParameter(input.Name ?? '') },
    });
    const failed = failure('PutParameter');
    if (failed) throw failed;
    if (input.Name && input.Value !== undefined)
      store.set(input.Name, { value: input.Value, type: input.Type ?? 'String', modified: clock() });
    return { Version: 1 };
  });
  return { mock, store, hooks, client: () => new SSMClient({ region: 'eu-west-1' }) };
}
