import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  EC2Client,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { recordAwsCall } from './aws-ledger';

export interface FakeInstance {
  id: string;
  state: string;
  privateIp: string;
  tags: Record<string, string>;
  /** EC2's LaunchTime; unset: launched long ago. */
  launchTime?: Date;
}

/**
 * EC2 mocked at the SDK boundary (aws-sdk-client-mock) with a little state: the instances,
 * their tags, terminations. The project's real adapter code runs on top of it.
 */
export function fakeEc2(instances: FakeInstance[]) {
  const mock = mockClient(EC2Client);
  const terminated: string[] = [];
  const hooks: {
    onTerminate?: (id: string) => void | Promise<void>;
    /** Every call fails with this error. */
    fail?: Error;
    /** Per call: an error for this call of this action (e.g. only the first TerminateInstances), or none. */
    failOn?: (
      action: 'DescribeInstances' | 'CreateTags' | 'DeleteTags' | 'TerminateInstances',
    ) => Error | undefined;
    /**
     * How long each call takes before EC2 answers. Real EC2 answers in tens to hundreds of
     * milliseconds, which is what lets concurrent callers interleave between a read and a write.
     */
    latencyMs?: number;
  } = {};
  const failure = (action: 'DescribeInstances' | 'CreateTags' | 'DeleteTags' | 'TerminateInstances') =>
    hooks.fail ?? hooks.failOn?.(action);
  const latency = async () => {
    if (hooks.latencyMs) await new Promise((r) => setTimeout(r, hooks.latencyMs));
  };

  const matches = (i: FakeInstance, input: DescribeInstancesCommandInput) => {
    if (input.InstanceIds && !input.InstanceIds.includes(i.id)) return false;
    for (const f of input.Filters ?? []) {
      const values = f.Values ?? [];
      if (f.Name?.startsWith('tag:') && !values.includes(i.tags[f.Name.slice(4)] ?? '\u0000')) return false;
      if (f.Name === 'tag-key' && !values.some((k) => k in i.tags)) return false;
      if (f.Name === 'private-ip-address' && !values.includes(i.privateIp)) return false;
      if (f.Name === 'instance-state-name' && !values.includes(i.state)) return false;
    }
    return true;
  };

  const clusterTagged = (id: string) =>
    Object.entries(instances.find((i) => i.id === id)?.tags ?? {}).some(
      ([k]) => k === 'swarm-reflex:cluster',
    );
  mock.on(DescribeInstancesCommand).callsFake(async (input: DescribeInstancesCommandInput) => {
    recordAwsCall({ action: 'ec2:DescribeInstances', resource: { kind: 'any' } });
    await latency();
    const failed = failure('DescribeInstances');
    if (failed) throw failed;
    if (input.InstanceIds?.some((id) => !instances.find((i) => i.id === id))) {
      throw Object.assign(new Error('The instance ID does not exist'), {
        name: 'InvalidInstanceID.NotFound',
      });
    }
    const found = instances.filter((i) => matches(i, input));
    return {
      Reservations: [
        {
          Instances: found.map((i) => ({
            InstanceId: i.id,
            State: { Name: i.state },
            PrivateIpAddress: i.privateIp,
            LaunchTime: i.launchTime ?? new Date('2026-01-01T00:00:00Z'),
            Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
          })),
        },
      ],
    };
  });
  mock
    .on(CreateTagsCommand)
    .callsFake(async (input: { Resources?: string[]; Tags?: Array<{ Key?: string; Value?: string }> }) => {
      for (const id of input.Resources ?? []) {
        recordAwsCall({
          action: 'ec2:CreateTags',
          resource: { kind: 'instance', clusterTagged: clusterTagged(id) },
          context: { 'aws:TagKeys': (input.Tags ?? []).map((t) => t.Key ?? '') },
        });
      }
      await latency();
      const failed = failure('CreateTags');
      if (failed) throw failed;
      for (const id of input.Resources ?? []) {
        const i = instances.find((x) => x.id === id);
        for (const t of input.Tags ?? []) if (i && t.Key) i.tags[t.Key] = t.Value ?? '';
      }
      return {};
    });
  mock
    .on(DeleteTagsCommand)
    .callsFake(async (input: { Resources?: string[]; Tags?: Array<{ Key?: string; Value?: string }> }) => {
      for (const id of input.Resources ?? []) {
        recordAwsCall({
          action: 'ec2:DeleteTags',
          resource: { kind: 'instance', clusterTagged: clusterTagged(id) },
          context: { 'aws:TagKeys': (input.Tags ?? []).map((t) => t.Key ?? '') },
        });
      }
      await latency();
      const failed = failure('DeleteTags');
      if (failed) throw failed;
      for (const id of input.Resources ?? []) {
        const i = instances.find((x) => x.id === id);
        for (const t of input.Tags ?? []) if (i && t.Key) delete i.tags[t.Key];
      }
      return {};
    });
  mock.on(TerminateInstancesCommand).callsFake(async (input: { InstanceIds?: string[] }) => {
    for (const id of input.InstanceIds ?? []) {
      recordAwsCall({
        action: 'ec2:TerminateInstances',
        resource: { kind: 'instance', clusterTagged: clusterTagged(id) },
      });
    }
    await latency();
    const failed = failure('TerminateInstances');
    if (failed) throw failed;
    for (const id of input.InstanceIds ?? []) {
      const i = instances.find((x) => x.id === id);
      if (i) i.state = 'shutting-down';
      terminated.push(id);
      await hooks.onTerminate?.(id);
    }
    return { TerminatingInstances: (input.InstanceIds ?? []).map((InstanceId) => ({ InstanceId })) };
  });

  return { mock, instances, terminated, hooks, client: () => new EC2Client({ region: 'eu-west-1' }) };
}
