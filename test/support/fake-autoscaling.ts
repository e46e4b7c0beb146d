import {
  AutoScalingClient,
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  type DescribeAutoScalingInstancesCommandInput,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { recordAwsCall } from './aws-ledger';

/**
 * The worker Auto Scaling group mocked at the SDK boundary, with its state: capacity,
 * instances, and the start time of its last activity (what the cooldown is read from).
 * As on AWS, an activity is listed by DescribeScalingActivities only `activityDelayMs` after
 * it started (measured on `clock`), while DescribeAutoScalingGroups shows the new capacity at once.
 */
export function fakeAutoScaling(
  initial: {
    name: string;
    min: number;
    max: number;
    desired: number;
    instances: string[];
    /** Instances a person put in Standby (LifecycleState `Standby`); the others are InService. */
    standby?: string[];
  },
  clock: () => Date,
  options: { activityDelayMs?: number } = {},
) {
  const mock = mockClient(AutoScalingClient);
  const activityDelayMs = options.activityDelayMs ?? 0;
  const activities: Array<{ start: Date; listedAt: number }> = [];
  const group = {
    ...initial,
    instances: [...initial.instances],
    standby: [...(initial.standby ?? [])],
    /** The start of the newest activity, listed yet or not; setting it rewrites the history (undefined: never scaled). */
    get lastActivity(): Date | undefined {
      return activities.at(-1)?.start;
    },
    set lastActivity(start: Date | undefined) {
      activities.length = 0;
      if (start) activities.push({ start, listedAt: start.getTime() });
    },
  };
  const startActivity = () => {
    const start = clock();
    activities.push({ start, listedAt: start.getTime() + activityDelayMs });
  };
  let describes = 0;
  const terminated: string[] = [];
  const hooks: {
    /** Every call fails with this error. */
    fail?: Error;
    /** Per call: an error for this call of this action (e.g. only the first SetDesiredCapacity), or none. */
    failOn?: (action: string) => Error | undefined;
    onSetDesired?: (n: number) => void;
    /** After the n-th DescribeAutoScalingGroups was answered: a change here comes between a read and a write. */
    onDescribed?: (n: number) => void;
    onTerminate?: (id: string) => Promise<void>;
  } = {};
  const guard = (action: string) => {
    const groupAction = action === 'SetDesiredCapacity' || action === 'TerminateInstanceInAutoScalingGroup';
    recordAwsCall({
      action: `autoscaling:${action}`,
      resource: groupAction ? { kind: 'worker-group' } : { kind: 'any' },
    });
    const error = hooks.fail ?? hooks.failOn?.(action);
    if (error) throw error;
  };
  mock.on(DescribeAutoScalingGroupsCommand).callsFake(async () => {
    guard('DescribeAutoScalingGroups');
    const answer = {
      AutoScalingGroups: [
        {
          AutoScalingGroupName: group.name,
          MinSize: group.min,
          MaxSize: group.max,
          DesiredCapacity: group.desired,
          Instances: group.instances.map((InstanceId) => ({
            InstanceId,
            LifecycleState: group.standby.includes(InstanceId) ? 'Standby' : 'InService',
          })),
        },
      ],
    };
    hooks.onDescribed?.(++describes);
    return answer;
  });
  // As AWS answers it: the listed instances that belong to a group (others are left out, no
  // error), at most 50 IDs per request.
  mock
    .on(DescribeAutoScalingInstancesCommand)
    .callsFake(async (input: DescribeAutoScalingInstancesCommandInput) => {
      guard('DescribeAutoScalingInstances');
      const ids = input.InstanceIds ?? group.instances;
      if (ids.length > 50) {
        throw autoScalingError(
          'ValidationError',
          "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50",
        );
      }
      return {
        AutoScalingInstances: ids
          .filter((id) => group.instances.includes(id))
          .map((InstanceId) => ({
            InstanceId,
            AutoScalingGroupName: group.name,
            LifecycleState: group.standby.includes(InstanceId) ? 'Standby' : 'InService',
            HealthStatus: 'HEALTHY',
            ProtectedFromScaleIn: false,
          })),
      };
    });
  mock.on(DescribeScalingActivitiesCommand).callsFake(async () => {
    guard('DescribeScalingActivities');
    const now = clock().getTime();
    const listed = activities.filter((a) => a.listedAt <= now).at(-1);
    return { Activities: listed ? [{ StartTime: listed.start }] : [] };
  });
  mock.on(SetDesiredCapacityCommand).callsFake(async (input: { DesiredCapacity?: number }) => {
    guard('SetDesiredCapacity');
    const n = input.DesiredCapacity ?? 0;
    if (n < group.min || n > group.max) {
      throw Object.assign(new Error('New SetDesiredCapacity value is outside the bounds'), {
        name: 'ValidationError',
      });
    }
    if (n !== group.desired) startActivity();
    group.desired = n;
    hooks.onSetDesired?.(n);
    return {};
  });
  mock
    .on(TerminateInstanceInAutoScalingGroupCommand)
    .callsFake(async (input: { InstanceId?: string; ShouldDecrementDesiredCapacity?: boolean }) => {
      guard('TerminateInstanceInAutoScalingGroup');
      const id = input.InstanceId ?? '';
      if (!group.instances.includes(id)) {
        throw autoScalingError(
          'ValidationError',
          `Instance Id not found - No managed instance found for instance ID: ${id}`,
        );
      }
      // AWS's own words (aws-cli#47, nomad-autoscaler#1290): the group never goes below its minimum.
      if (input.ShouldDecrementDesiredCapacity && group.desired <= group.min) {
        throw autoScalingError(
          'ValidationError',
          `Currently, desiredSize equals minSize (${group.min}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
        );
      }
      await hooks.onTerminate?.(id);
      group.instances = group.instances.filter((i) => i !== id);
      if (input.ShouldDecrementDesiredCapacity) group.desired -= 1;
      startActivity();
      terminated.push(id);
      return { Activity: { ActivityId: `a-${terminated.length}` } };
    });
  return { mock, group, terminated, hooks, client: () => new AutoScalingClient({ region: 'eu-west-1' }) };
}

/** An Auto Scaling error as the SDK raises it: a client fault (HTTP 400) named by AWS's error code. */
export function autoScalingError(name: string, message: string): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message,
  });
}
