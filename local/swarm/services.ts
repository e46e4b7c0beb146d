/** Services of busybox tasks, and waiting for their tasks to run. */
import type Docker from 'dockerode';
import { BUSYBOX_IMAGE } from './names';
import { poll } from './poll';
import type { ServiceSpecInput } from './types';

/** The part of a task that the Docker API shows and we read (dockerode types these as any). */
interface TaskInfo {
  ID: string;
  NodeID?: string;
  DesiredState?: string;
  Status?: { State?: string; Err?: string; Message?: string };
}

/** Creates the service and waits until the manager knows it; returns its ID. */
export async function createService(client: Docker, spec: ServiceSpecInput): Promise<string> {
  const service = await client.createService({
    Name: spec.name,
    Labels: spec.labels ?? {},
    TaskTemplate: {
      ContainerSpec: {
        Image: BUSYBOX_IMAGE,
        Command: spec.command ?? ['sleep', '3600'],
        // busybox sleep as pid 1 ignores SIGTERM: keep the wait for SIGKILL short.
        StopGracePeriod: 1_000_000_000,
      },
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
    },
    Mode: spec.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: spec.replicas ?? 1 } },
  });
  await poll(`service ${spec.name} to exist`, 15_000, async () => {
    await client.getService(service.id).inspect();
    return true;
  });
  return service.id;
}

/** `liveManager` is asked again on every poll: the manager that answers may change meanwhile. */
export async function waitForRunningTasks(
  liveManager: () => Docker,
  service: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  let last: TaskInfo[] = [];
  await poll(
    `${count} running tasks of ${service}`,
    timeoutMs,
    async () => {
      last = await liveManager().listTasks({
        filters: { service: [service], 'desired-state': ['running'] },
      });
      return last.filter((task) => task.Status?.State === 'running').length === count;
    },
    () => `tasks: ${describeTasks(last)}`,
  );
}

function describeTasks(tasks: TaskInfo[]): string {
  if (tasks.length === 0) return 'none';
  return tasks
    .map(
      (t) =>
        `${t.ID.slice(0, 8)}@${t.NodeID?.slice(0, 8) ?? '?'}=${t.Status?.State}${t.Status?.Err ? ` (${t.Status.Err})` : ''}`,
    )
    .join(', ');
}
