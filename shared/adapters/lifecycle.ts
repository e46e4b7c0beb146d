import type { AutoScalingClient, Instance } from '@aws-sdk/client-auto-scaling';
import type { ClientSource } from './aws';

/** Loaded on first use (esbuild keeps a dynamic import lazy): a path that never calls it never pays for it. */
const sdk = () => import('@aws-sdk/client-auto-scaling');

import { awsErrorName } from '../domain/errors';
import type { GroupInstance, LifecycleAction, LifecycleActions, LifecycleHook } from '../domain/lifecycle';
import { awsUnavailable } from './aws';

/** Auto Scaling's answer for an instance that waits in no hook any more (completed, timed out, gone). */
const NO_ACTIVE_ACTION = /No active Lifecycle Action found/i;

function noActiveAction(error: unknown): boolean {
  return awsErrorName(error) === 'ValidationError' && NO_ACTIVE_ACTION.test((error as Error)?.message ?? '');
}

const transitionOf = (t: string | undefined): LifecycleHook['transition'] =>
  t === 'autoscaling:EC2_INSTANCE_LAUNCHING'
    ? 'launch'
    : t === 'autoscaling:EC2_INSTANCE_TERMINATING'
      ? 'terminate'
      : 'other';

const names = (action: LifecycleAction) => ({
  AutoScalingGroupName: action.group,
  LifecycleHookName: action.hook,
  InstanceId: action.instance,
});

/** Runs a call on one lifecycle action: false when Auto Scaling says the instance waits in it no longer. */
async function unlessNoActiveAction(doing: string, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (error) {
    if (noActiveAction(error)) return false;
    throw awsUnavailable(error, doing);
  }
}

/** At most this many group names per DescribeAutoScalingGroups request (the API's limit). */
const NAMES_PER_REQUEST = 100;

export function createLifecycleActions(client: ClientSource<AutoScalingClient>): LifecycleActions {
  const listInstances = async (names: readonly string[]): Promise<GroupInstance[]> => {
    const found: GroupInstance[] = [];
    let NextToken: string | undefined;
    do {
      const page = await (await client()).send(
        new (await sdk()).DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [...names], NextToken }),
      );
      for (const g of page.AutoScalingGroups ?? []) {
        const group = g.AutoScalingGroupName ?? '';
        for (const i of g.Instances ?? ([] as Instance[])) {
          if (i.InstanceId) found.push({ id: i.InstanceId, group, lifecycleState: i.LifecycleState ?? '' });
        }
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return found;
  };
  return {
    async describeGroups(names) {
      if (names.length === 0) return [];
      try {
        const pages: GroupInstance[] = [];
        for (let i = 0; i < names.length; i += NAMES_PER_REQUEST) {
          pages.push(...(await listInstances(names.slice(i, i + NAMES_PER_REQUEST))));
        }
        return pages;
      } catch (error) {
        throw awsUnavailable(error, `describing ${names.join(', ')}`);
      }
    },
    async describeHooks(group) {
      try {
        const answer = await (await client()).send(
          new (await sdk()).DescribeLifecycleHooksCommand({ AutoScalingGroupName: group }),
        );
        return (answer.LifecycleHooks ?? []).map((h) => ({
          group,
          name: h.LifecycleHookName ?? '',
          transition: transitionOf(h.LifecycleTransition),
          // AWS's default when a hook is created without one.
          heartbeatTimeoutSeconds: h.HeartbeatTimeout ?? 3_600,
          defaultResult: h.DefaultResult ?? 'ABANDON',
        }));
      } catch (error) {
        throw awsUnavailable(error, `describing the lifecycle hooks of ${group}`);
      }
    },
    async complete(action, result) {
      const input = { ...names(action), LifecycleActionResult: result };
      const done = await unlessNoActiveAction(`completing ${action.hook} for ${action.instance}`, async () =>
        (await client()).send(new (await sdk()).CompleteLifecycleActionCommand(input)),
      );
      return done ? 'completed' : 'no-active-action';
    },
    async heartbeat(action) {
      const doing = `recording a heartbeat of ${action.hook} for ${action.instance}`;
      const done = await unlessNoActiveAction(doing, async () =>
        (await client()).send(new (await sdk()).RecordLifecycleActionHeartbeatCommand(names(action))),
      );
      return done ? 'recorded' : 'no-active-action';
    },
  };
}
