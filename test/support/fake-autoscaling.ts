import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { recordAwsCall } from './aws-ledger';

/**
 * The worker Auto Scaling group mocked at the SDK boundary, with its state: capacity,
 * instances, and the start time of its last activity (what the cooldown is read from).
 */
export function fakeAutoScaling(
  initial: { name: string; min: number; max: number; desired: number; instances: string[] },
  clock: () => Date,
) {
  const mock = mockClient(AutoScalingClient);
  const group = {
    ...initial,
    instances: [...initial.instances],
    lastActivity: undefined as Date | undefined,
  };
  const terminated: string[] = [];
  const hooks: {
    /** Every call fails with this error. */
    fail?: Error;
    /** Per call: an error for this call of this action (e.g. only the first SetDesiredCapacity), or none. */
    failOn?: (action: string) => Error | undefined;
    onSetDesired?: (n: number) => void;
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
    return {
      AutoScalingGroups: [
        {
          AutoScalingGroupName: group.name,
          MinSize: group.min,
          MaxSize: group.max,
          DesiredCapacity: group.desired,
          Instances: group.instances.map((InstanceId) => ({ InstanceId, LifecycleState: 'InService' })),
        },
      ],
    };
  });
  mock.on(DescribeScalingActivitiesCommand).callsFake(async () => {
    guard('DescribeScalingActivities');
    return { Activities: group.lastActivity ? [{ StartTime: group.lastActivity }] : [] };
  });
  mock.on(SetDesiredCapacityCommand).callsFake(async (input: { DesiredCapacity?: number }) => {
    guard('SetDesiredCapacity');
    const n = input.DesiredCapacity ?? 0;
    if (n < group.min || n > group.max) {
      throw Object.assign(new Error('New SetDesiredCapacity value is outside the bounds'), {
        name: 'ValidationError',
      });
    }
    if (n !== group.desired) group.lastActivity = clock();
    group.desired = n;
    hooks.onSetDesired?.(n);
    return {};
  });
  mock.on(TerminateInstanceInAutoScalingGroupCommand).callsFake(async (input: { InstanceId?: string }) => {
    guard('TerminateInstanceInAutoScalingGroup');
    const id = input.InstanceId ?? '';
    if (!group.instances.includes(id)) {
      throw Object.assign(
        new Error(`Instance Id not found - No managed instance found for instance ID: ${id}`),
        {
          name: 'ValidationError',
        },
      );
    }
    await hooks.onTerminate?.(id);
    group.instances = group.instances.filter((i) => i !== id);
    group.desired -= 1;
    group.lastActivity = clock();
    terminated.push(id);
    return { Activity: { ActivityId: `a-${terminated.length}` } };
  });
  return { mock, group, terminated, hooks, client: () => new AutoScalingClient({ region: 'eu-west-1' }) };
}
