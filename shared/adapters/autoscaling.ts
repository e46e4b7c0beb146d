import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { ClientSource } from './aws';

/** Loaded on first use (esbuild keeps a dynamic import lazy): a path that never calls it never pays for it. */
const sdk = () => import('@aws-sdk/client-auto-scaling');

import { type InstanceGroups, terminateRefusal, type WorkerGroup } from '../domain/cloud';
import { isStandby } from '../domain/opt-out';
import { awsUnavailable } from './aws';

export function createWorkerGroup(client: ClientSource<AutoScalingClient>, groupName: string): WorkerGroup {
  return {
    async describe() {
      try {
        // Client and commands first: both calls must be in flight (and watched) before either can fail.
        const [autoScaling, commands] = await Promise.all([client(), sdk()]);
        const [groups, activities] = await Promise.all([
          autoScaling.send(
            new commands.DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
          ),
          autoScaling.send(
            new commands.DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 1 }),
          ),
        ]);
        const g = groups.AutoScalingGroups?.[0];
        if (!g)
          throw Object.assign(new Error(`no Auto Scaling group named ${groupName}`), {
            name: 'GroupNotFound',
          });
        const live = (g.Instances ?? []).filter(
          (i) => !/^Terminat/.test(i.LifecycleState ?? '') && (i.InstanceId ?? '') !== '',
        );
        return {
          name: groupName,
          min: g.MinSize ?? 0,
          max: g.MaxSize ?? 0,
          desired: g.DesiredCapacity ?? 0,
          instances: live.map((i) => i.InstanceId ?? ''),
          standby: live.filter((i) => isStandby(i.LifecycleState)).map((i) => i.InstanceId ?? ''),
          lastActivityAt: activities.Activities?.[0]?.StartTime,
        };
      } catch (error) {
        throw awsUnavailable(error, `describing ${groupName}`);
      }
    },
    async setDesired(capacity) {
      try {
        await (await client()).send(
          new (await sdk()).SetDesiredCapacityCommand({
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
        await (await client()).send(
          new (await sdk()).TerminateInstanceInAutoScalingGroupCommand({
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

/** DescribeAutoScalingInstances takes at most 50 instance IDs per request. */
const INSTANCES_PER_REQUEST = 50;

export function createInstanceGroups(client: ClientSource<AutoScalingClient>): InstanceGroups {
  return {
    async lifecycleStates(ids) {
      const states = new Map<string, string>();
      if (ids.length === 0) return states;
      try {
        const [autoScaling, commands] = await Promise.all([client(), sdk()]);
        for (let at = 0; at < ids.length; at += INSTANCES_PER_REQUEST) {
          const InstanceIds = ids.slice(at, at + INSTANCES_PER_REQUEST);
          const out = await autoScaling.send(
            new commands.DescribeAutoScalingInstancesCommand({ InstanceIds }),
          );
          for (const i of out.AutoScalingInstances ?? []) {
            if (i.InstanceId && i.LifecycleState) states.set(i.InstanceId, i.LifecycleState);
          }
        }
      } catch (error) {
        throw awsUnavailable(error, `reading the Auto Scaling state of ${ids.slice(0, 3).join(', ')}`);
      }
      return states;
    },
  };
}
