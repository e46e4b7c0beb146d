import { GetParametersCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { awsUnavailable } from './aws';

export interface StoredParameter {
  readonly value: string;
  readonly lastModified: Date | undefined;
}

/** SSM Parameter Store, for what the functions keep there (join tokens, manager addresses). */
export interface ParameterStore {
  /** Reads (decrypted) the named parameters; missing ones are absent from the map. */
  get(names: readonly string[]): Promise<Map<string, StoredParameter>>;
  put(name: string, value: string, kind: 'SecureString' | 'String'): Promise<void>;
}

export function createParameterStore(ssm: () => SSMClient): ParameterStore {
  return {
    async get(names) {
      const found = new Map<string, StoredParameter>();
      // GetParameters takes at most 10 names a call.
      for (let i = 0; i < names.length; i += 10) {
        try {
          const page = await ssm().send(
            new GetParametersCommand({ Names: names.slice(i, i + 10), WithDecryption: true }),
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
        await ssm().send(new PutParameterCommand({ Name: name, Value: value, Type: kind, Overwrite: true }));
      } catch (error) {
        throw awsUnavailable(error, `writing ${name}`);
      }
    },
  };
}
