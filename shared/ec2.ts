import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { awsErrorName, awsUnavailable } from './aws';

export interface InstanceInfo {
  readonly id: string;
  /** pending | running | shutting-down | terminated | stopping | stopped */
  readonly state: string;
  readonly privateIp: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  /** When EC2 launched it: an instance launched after a node joined cannot be that node's. */
  readonly launchTime: Date | undefined;
}

/** Tags we write on an instance that is being replaced: the state of a replacement in progress. */
export const REPLACING_NODE_TAG = 'swarm-reflex:replacing-node';
/** When the replacement started (the first tag): another caller's replacement gets a minute to finish. */
export const REPLACING_SINCE_TAG = 'swarm-reflex:replacing-since';
export const REPLACING_HOSTNAME_TAG = 'swarm-reflex:replacing-hostname';
export const REPLACING_ROLE_TAG = 'swarm-reflex:replacing-role';
/** Written once our removal of the node succeeded: what lets a later caller finish (terminate) the replacement. */
export const REPLACING_REMOVED_TAG = 'swarm-reflex:replacing-removed';
/** A replacement whose first caller has not finished after this long is resumed by the next caller (or the sweep). */
export const REPLACEMENT_RESUME_AFTER_MS = 60_000;
export const REPLACING_TAGS = [
  REPLACING_NODE_TAG,
  REPLACING_SINCE_TAG,
  REPLACING_HOSTNAME_TAG,
  REPLACING_ROLE_TAG,
];

/** The EC2 calls node replacement makes, all scoped to this cluster's tagged instances. */
export interface CloudInstances {
  describeInstance(id: string): Promise<InstanceInfo | undefined>;
  /** The live instance with this private address: this cluster's if exactly one is, else the only one. */
  findByAddress(address: string): Promise<InstanceInfo | undefined>;
  /**
   * Whether EC2 shows this cluster at all (a running instance with the cluster tag): what makes
   * "no such instance" mean gone, rather than "we cannot see" (wrong region, a filtered role).
   */
  clusterVisible(): Promise<boolean>;
  /** The cluster's instances carrying a replacing-node tag (terminated ones stay listed for about an hour). */
  listReplacements(): Promise<InstanceInfo[]>;
  tagInstance(id: string, tags: Record<string, string>): Promise<void>;
  /** Removes tags (an aborted replacement's): the instance is no longer being replaced. */
  untagInstance(id: string, keys: readonly string[]): Promise<void>;
  terminateInstance(id: string): Promise<void>;
}

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
  ec2: () => EC2Client,
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
        const page = await ec2().send(new DescribeInstancesCommand({ ...input, NextToken }));
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
        const page = await ec2().send(
          new DescribeInstancesCommand({
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
        await ec2().send(
          new CreateTagsCommand({
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
        await ec2().send(new DeleteTagsCommand({ Resources: [id], Tags: keys.map((Key) => ({ Key })) }));
      } catch (error) {
        throw awsUnavailable(error, `untagging ${id}`);
      }
    },
    async terminateInstance(id) {
      try {
        await ec2().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      } catch (error) {
        throw awsUnavailable(error, `terminating ${id}`);
      }
    },
  };
}
