import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  type CompleteLifecycleActionCommandInput,
  DescribeAutoScalingGroupsCommand,
  type DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingInstancesCommand,
  type DescribeAutoScalingInstancesCommandInput,
  DescribeLifecycleHooksCommand,
  type DescribeLifecycleHooksCommandInput,
  RecordLifecycleActionHeartbeatCommand,
  type RecordLifecycleActionHeartbeatCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { recordAwsCall } from './aws-ledger';
import { autoScalingError } from './fake-autoscaling';

export interface FakeHook {
  name: string;
  transition: 'launch' | 'terminate';
  /** Seconds; AWS's default is 3600. */
  heartbeatTimeout?: number;
  defaultResult?: 'CONTINUE' | 'ABANDON';
}

export interface FakeGroup {
  name: string;
  /**
   * Each instance's LifecycleState as Auto Scaling reports it (Pending:Wait, InService,
   * Terminating:Wait…), and the hooks of its current wait already completed with CONTINUE.
   */
  instances: Array<{ id: string; state: string; continued?: string[] }>;
  hooks: FakeHook[];
}

const TRANSITION = {
  launch: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminate: 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;

/** Which hook transition each waiting state waits in. */
const WAITS_IN: Record<string, 'launch' | 'terminate'> = {
  'Pending:Wait': 'launch',
  'Warmed:Pending:Wait': 'launch',
  'Terminating:Wait': 'terminate',
  'Warmed:Terminating:Wait': 'terminate',
};

/**
 * Auto Scaling's lifecycle hooks mocked at the SDK boundary, with their state: the groups'
 * instances and lifecycle states, the hooks, the completions and heartbeats. It answers as AWS
 * does: an instance that waits in no hook (completed already, never waited, not in the group)
 * is a ValidationError "No active Lifecycle Action found with instance ID i-…". With several
 * hooks for one transition, the instance waits until each is completed: CONTINUE finishes only
 * that hook's action (the others still wait), ABANDON ends the others too (AWS User Guide,
 * "lifecycle hooks": "abandon stops any remaining actions, such as other lifecycle hooks, and
 * continue allows any other lifecycle hooks to complete"). Once the wait ends, a terminate
 * transition terminates the instance, a launch transition puts it InService (CONTINUE) or
 * terminates it (ABANDON). Every call goes to the AWS-call ledger.
 */
export function fakeLifecycle(groups: FakeGroup[]) {
  const mock = mockClient(AutoScalingClient);
  const completed: Array<{ group: string; hook: string; instance: string; result: string }> = [];
  const heartbeats: Array<{ group: string; hook: string; instance: string }> = [];
  const hooks: {
    fail?: Error;
    failOn?: (action: string) => Error | undefined;
    /** Each call waits this long before it answers, so that concurrent callers interleave. */
    latencyMs?: number;
  } = {};
  const guard = async (action: string) => {
    const scoped = action === 'CompleteLifecycleAction' || action === 'RecordLifecycleActionHeartbeat';
    recordAwsCall({
      action: `autoscaling:${action}`,
      resource: scoped ? { kind: 'worker-group' } : { kind: 'any' },
    });
    if (hooks.latencyMs) await new Promise((r) => setTimeout(r, hooks.latencyMs));
    const error = hooks.fail ?? hooks.failOn?.(action);
    if (error) throw error;
  };
  /** The instance's wait in this hook, or AWS's ValidationError. */
  const waiting = (input: {
    AutoScalingGroupName?: string;
    LifecycleHookName?: string;
    InstanceId?: string;
  }) => {
    const group = groups.find((g) => g.name === input.AutoScalingGroupName);
    const hook = group?.hooks.find((h) => h.name === input.LifecycleHookName);
    const instance = group?.instances.find((i) => i.id === input.InstanceId);
    if (
      !group ||
      !hook ||
      !instance ||
      WAITS_IN[instance.state] !== hook.transition ||
      instance.continued?.includes(hook.name)
    ) {
      throw autoScalingError(
        'ValidationError',
        `No active Lifecycle Action found with instance ID ${input.InstanceId}`,
      );
    }
    return { group, hook, instance };
  };

  mock
    .on(DescribeAutoScalingGroupsCommand)
    .callsFake(async (input: DescribeAutoScalingGroupsCommandInput) => {
      await guard('DescribeAutoScalingGroups');
      const names = input.AutoScalingGroupNames ?? groups.map((g) => g.name);
      return {
        AutoScalingGroups: groups
          .filter((g) => names.includes(g.name))
          .map((g) => ({
            AutoScalingGroupName: g.name,
            Instances: g.instances.map((i) => ({
              InstanceId: i.id,
              LifecycleState: i.state,
              HealthStatus: 'Healthy',
            })),
          })),
      };
    });
  // The listed instances that belong to a group (others are left out, no error), as AWS answers.
  mock
    .on(DescribeAutoScalingInstancesCommand)
    .callsFake(async (input: DescribeAutoScalingInstancesCommandInput) => {
      await guard('DescribeAutoScalingInstances');
      const ids = input.InstanceIds ?? [];
      return {
        AutoScalingInstances: groups.flatMap((g) =>
          g.instances
            .filter((i) => ids.includes(i.id))
            .map((i) => ({
              InstanceId: i.id,
              AutoScalingGroupName: g.name,
              LifecycleState: i.state,
              HealthStatus: 'HEALTHY',
              ProtectedFromScaleIn: false,
            })),
        ),
      };
    });
  mock.on(DescribeLifecycleHooksCommand).callsFake(async (input: DescribeLifecycleHooksCommandInput) => {
    await guard('DescribeLifecycleHooks');
    const group = groups.find((g) => g.name === input.AutoScalingGroupName);
    if (!group) throw autoScalingError('ValidationError', 'Group not found');
    return {
      LifecycleHooks: group.hooks.map((h) => ({
        LifecycleHookName: h.name,
        AutoScalingGroupName: group.name,
        LifecycleTransition: TRANSITION[h.transition],
        HeartbeatTimeout: h.heartbeatTimeout ?? 3_600,
        GlobalTimeout: Math.min(172_800, 100 * (h.heartbeatTimeout ?? 3_600)),
        DefaultResult: h.defaultResult ?? 'ABANDON',
      })),
    };
  });
  mock.on(CompleteLifecycleActionCommand).callsFake(async (input: CompleteLifecycleActionCommandInput) => {
    await guard('CompleteLifecycleAction');
    const { group, hook, instance } = waiting(input);
    const result = input.LifecycleActionResult ?? '';
    if (result !== 'CONTINUE' && result !== 'ABANDON') {
      throw autoScalingError('ValidationError', `Invalid LifecycleActionResult: ${result}`);
    }
    completed.push({ group: group.name, hook: hook.name, instance: instance.id, result });
    const others = group.hooks.filter((h) => h.transition === hook.transition && h.name !== hook.name);
    instance.continued = [...(instance.continued ?? []), hook.name];
    const waitsStill = others.some((h) => !instance.continued?.includes(h.name));
    if (result === 'CONTINUE' && waitsStill) return {};
    instance.continued = undefined;
    if (instance.state === 'Warmed:Pending:Wait') instance.state = 'Warmed:Stopped';
    else if (hook.transition === 'launch' && result === 'CONTINUE') instance.state = 'InService';
    else instance.state = 'Terminating:Proceed';
    return {};
  });
  mock
    .on(RecordLifecycleActionHeartbeatCommand)
    .callsFake(async (input: RecordLifecycleActionHeartbeatCommandInput) => {
      await guard('RecordLifecycleActionHeartbeat');
      const { group, hook, instance } = waiting(input);
      heartbeats.push({ group: group.name, hook: hook.name, instance: instance.id });
      return {};
    });
  return {
    mock,
    groups,
    completed,
    heartbeats,
    hooks,
    client: () => new AutoScalingClient({ region: 'eu-west-1' }),
  };
}
