import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { terminateRefusal, type WorkerGroup } from '../domain/cloud';
import { awsUnavailable } from './aws';

export function createWorkerGroup(client: () => AutoScalingClient, groupName: string): WorkerGroup {
  return {
    async describe() {
      try {
        const [groups, activities] = await Promise.all([
          client().send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
          client().send(
            new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 1 }),
          ),
        ]);
        const g = groups.AutoScalingGroups?.[0];
        if (!g)
          throw Object.assign(new Error(`no Auto Scaling group named ${groupName}`), {
            name: 'GroupNotFound',
          });
        return {
          name: groupName,
          min: g.MinSize ?? 0,
          max: g.MaxSize ?? 0,
          desired: g.DesiredCapacity ?? 0,
          instances: (g.Instances ?? [])
            .filter((i) => !/^Terminat/.test(i.LifecycleState ?? ''))
            .map((i) => i.InstanceId ?? '')
            .filter((id) => id !== ''),
          lastActivityAt: activities.Activities?.[0]?.StartTime,
        };
      } catch (error) {
        throw awsUnavailable(error, `describing ${groupName}`);
      }
    },
    async setDesired(capacity) {
      try {
        await client().send(
          new SetDesiredCapacityCommand({
            AutoScalingGroupName: groupName,
            DesiredCapacity: capacity,
            HonorCooldown: false,
          }),
        );
      } catch (error) {
        throw awsUnavailable(error, `setting the capacity of ${groupName}`);
      }
    },
    async terminateAndShrink(instanceId) {
      try {
        await client().send(
          new TerminateInstanceInAutoScalingGroupCommand({
            InstanceId: instanceId,
            ShouldDecrementDesiredCapacity: true,
          }),
        );
        return { kind: 'terminated' };
      } catch (error) {
        const refusal = terminateRefusal(error);
        if (refusal) return refusal;
        throw awsUnavailable(error, `terminating ${instanceId}`);
      }
    },
  };
}
