import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ClientSource } from './aws';

/** Loaded on first use (esbuild keeps a dynamic import lazy): a path that never calls it never pays for it. */
const sdk = () => import('@aws-sdk/client-ssm');

import type { ParameterStore, StoredParameter } from '../domain/cloud';
import { awsUnavailable } from './aws';

export function createParameterStore(ssm: ClientSource<SSMClient>): ParameterStore {
  return {
    async get(names) {
      const found = new Map<string, StoredParameter>();
      // GetParameters takes at most 10 names a call.
      for (let i = 0; i < names.length; i += 10) {
        try {
          const page = await (await ssm()).send(
            new (await sdk()).GetParametersCommand({ Names: names.slice(i, i + 10), WithDecryption: true }),
          );
          for (const p of page.Parameters ?? []) {
            if (p.Name && p.Value !== undefined)
              found.set(p.Name, { value: p.Value, lastModified: p.LastModifiedDate });
          }
        } catch (error) {
          throw awsUnavailable(error, 'reading parameters');
        }
      }
      return found;
    },
    async put(name, value, kind) {
      try {
        await (await ssm()).send(
          new (await sdk()).PutParameterCommand({ Name: name, Value: value, Type: kind, Overwrite: true }),
        );
      } catch (error) {
        throw awsUnavailable(error, `writing ${name}`);
      }
    },
  };
}
