import type { DescribeInstancesCommand, EC2Client, Filter, Instance } from '@aws-sdk/client-ec2';
import type { ClientSource } from './aws';

/** Loaded on first use (esbuild keeps a dynamic import lazy): a path that never calls it never pays for it. */
const sdk = () => import('@aws-sdk/client-ec2');

import type { CloudInstances, InstanceInfo } from '../domain/cloud';
import { awsErrorName } from '../domain/errors';
import { REPLACING_NODE_TAG } from '../domain/labels';
import { awsUnavailable } from './aws';

function toInfo(i: Instance): InstanceInfo {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return {
    id: i.InstanceId ?? '',
    state: i.State?.Name ?? 'unknown',
    privateIp: i.PrivateIpAddress,
    tags,
    launchTime: i.LaunchTime,
  };
}

export function createCloudInstances(
  ec2: ClientSource<EC2Client>,
  clusterTag: { key: string; value: string },
): CloudInstances {
  const clusterFilter: Filter = { Name: `tag:${clusterTag.key}`, Values: [clusterTag.value] };
  const describe = async (
    doing: string,
    input: ConstructorParameters<typeof DescribeInstancesCommand>[0],
  ) => {
    const found: InstanceInfo[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const page = await (await ec2()).send(
          new (await sdk()).DescribeInstancesCommand({ ...input, NextToken }),
        );
        for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) found.push(toInfo(i));
        NextToken = page.NextToken;
      } while (NextToken);
    } catch (error) {
      if (
        awsErrorName(error) === 'InvalidInstanceID.NotFound' ||
        awsErrorName(error) === 'InvalidInstanceID.Malformed'
      ) {
        return [];
      }
      throw awsUnavailable(error, doing);
    }
    return found;
  };
  return {
    async describeInstance(id) {
      return (await describe(`describing ${id}`, { InstanceIds: [id] }))[0];
    },
    async findByAddress(address) {
      // Not filtered by the cluster tag: an untagged instance must be found to be refused by name.
      const found = await describe(`finding the instance at ${address}`, {
        Filters: [
          { Name: 'private-ip-address', Values: [address] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      });
      const ours = found.filter((i) => i.tags[clusterTag.key] === clusterTag.value);
      if (ours.length === 1) return ours[0];
      return found.length === 1 ? found[0] : undefined;
    },
    async clusterVisible() {
      try {
        const page = await (await ec2()).send(
          new (await sdk()).DescribeInstancesCommand({
            Filters: [clusterFilter, { Name: 'instance-state-name', Values: ['running'] }],
            MaxResults: 5,
          }),
        );
        return (page.Reservations ?? []).some((r) => (r.Instances ?? []).length > 0);
      } catch (error) {
        throw awsUnavailable(error, 'listing the cluster instances');
      }
    },
    async listReplacements() {
      return describe('counting recent replacements', {
        Filters: [clusterFilter, { Name: 'tag-key', Values: [REPLACING_NODE_TAG] }],
      });
    },
    async tagInstance(id, tags) {
      try {
        await (await ec2()).send(
          new (await sdk()).CreateTagsCommand({
            Resources: [id],
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
      } catch (error) {
        throw awsUnavailable(error, `tagging ${id}`);
      }
    },
    async untagInstance(id, keys) {
      try {
        await (await ec2()).send(
          new (await sdk()).DeleteTagsCommand({ Resources: [id], Tags: keys.map((Key) => ({ Key })) }),
        );
      } catch (error) {
        throw awsUnavailable(error, `untagging ${id}`);
      }
    },
    async terminateInstance(id) {
      try {
        await (await ec2()).send(new (await sdk()).TerminateInstancesCommand({ InstanceIds: [id] }));
      } catch (error) {
        throw awsUnavailable(error, `terminating ${id}`);
      }
    },
  };
}
