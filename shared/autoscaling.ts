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

/**
 * What Auto Scaling answered to a termination. `refused` is an answer that says the request can
 * never succeed as it stands (a `ValidationError`, e.g. the group is at its minimum): asking
 * again changes nothing, so the caller must do something else. Anything that a later try can
 * get past (throttling, access denied, a 5xx, the network) is thrown as unavailable instead.
 */
export type TerminateResult =
  | { kind: 'terminated' }
  /** Already gone from the group (a retry after a call whose answer was lost): nothing left to do. */
  | { kind: 'not-in-group' }
  | { kind: 'refused'; reason: 'at-min' | 'invalid'; message: string };

/** The Auto Scaling calls worker capacity needs; the group's own state is the only state. */
export interface WorkerGroup {
  describe(): Promise<GroupState>;
  setDesired(capacity: number): Promise<void>;
  /** Terminates one instance and lowers the desired capacity with it. */
  terminateAndShrink(instanceId: string): Promise<TerminateResult>;
}

/** Reads a TerminateInstanceInAutoScalingGroup error; undefined when a later try may succeed. */
export function terminateRefusal(
  error: unknown,
): Exclude<TerminateResult, { kind: 'terminated' }> | undefined {
  if (awsErrorName(error) !== 'ValidationError') return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (/not part of|not found/i.test(message)) return { kind: 'not-in-group' };
  // "Currently, desiredSize equals minSize (N). Terminating instance without replacement will
  // violate group's min size constraint. …" — AWS's own words.
  const reason = /minSize|min size/i.test(message) ? 'at-min' : 'invalid';
  return { kind: 'refused', reason, message };
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
        return { kind: 'terminated' };
      } catch (error) {
        const refusal = terminateRefusal(error);
        if (refusal) return refusal;
        throw awsUnavailable(error, `terminating ${instanceId}`);
      }
    },
  };
}
