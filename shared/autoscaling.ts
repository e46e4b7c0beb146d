import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsErrorName, awsUnavailable } from './aws';

export interface GroupState {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly desired: number;
  /** In-service (or pending) instance IDs of the group. */
  readonly instances: readonly string[];
  /** When the group's most recent scaling activity started; undefined if it never scaled. */
  readonly lastActivityAt: Date | undefined;
}

/** The Auto Scaling calls worker capacity needs; the group's own state is the only state. */
export interface WorkerGroup {
  describe(): Promise<GroupState>;
  setDesired(capacity: number): Promise<void>;
  /** Terminates one instance and lowers the desired capacity with it; false if it is no longer in the group. */
  terminateAndShrink(instanceId: string): Promise<boolean>;
}

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
        return true;
      } catch (error) {
        // Already gone from the group (a retry after a successful call): nothing left to do.
        if (
          awsErrorName(error) === 'ValidationError' &&
          /not part of|not found/i.test((error as Error).message)
        )
          return false;
        throw awsUnavailable(error, `terminating ${instanceId}`);
      }
    },
  };
}
