import type { WorkerGroup } from './autoscaling';
import { VersionConflictError } from './errors';
import type { Logger } from './logger';
import type { Notifier } from './notifier';
import { ACTIVE_TASK_STATES, type NodeState, type SwarmNodes, type TaskState } from './swarm';

/**
 * Scale-in is two-phase and keeps its state on the node itself (node labels, versioned):
 * phase one drains the chosen worker and labels it; phase two — run by scale-nodes on each
 * call and by the sweep every minute — terminates its instance (shrinking the group) once
 * no task is left on it, then removes it from the swarm.
 */
export const SCALE_IN_LABEL = 'com.swarm-reflex.scale-in';
/** Claimed by the caller that terminates: concurrent completions terminate once. */
export const SCALE_IN_CLAIM_LABEL = 'com.swarm-reflex.scale-in-claimed';
/** A claim older than this belongs to a caller that died; the next one takes over. */
export const CLAIM_EXPIRY_MS = 120_000;
export const INSTANCE_ID_LABEL = 'aws.instance-id';

export type ScaleInProgress =
  | { kind: 'scaled-in'; node: string; hostname: string; instance: string | undefined }
  | { kind: 'draining'; node: string; hostname: string; tasks: number; since: string }
  | { kind: 'in-progress'; node: string; hostname: string };

export interface ScaleInDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'removeNode'>;
  tasks: { listTasks(): Promise<TaskState[]> };
  /** Undefined without AWS: the drained node is only removed from the swarm. */
  group: WorkerGroup | undefined;
  notifier: Notifier;
  clock: { now(): Date };
}

export function pendingScaleIns(nodes: readonly NodeState[]): NodeState[] {
  return nodes.filter((n) => n.labels[SCALE_IN_LABEL] !== undefined);
}

/** Tasks that still occupy each node. */
export function activeTasksByNode(tasks: readonly TaskState[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tasks) {
    if (t.nodeId && ACTIVE_TASK_STATES.has(t.state)) counts.set(t.nodeId, (counts.get(t.nodeId) ?? 0) + 1);
  }
  return counts;
}

/** Completes every pending scale-in whose node is empty; reports the others. */
export async function completeScaleIns(
  deps: ScaleInDeps,
  log: Logger,
  view?: { nodes: readonly NodeState[]; tasks: readonly TaskState[] },
): Promise<ScaleInProgress[]> {
  const nodes = view?.nodes ?? (await deps.swarm.listNodes());
  const pending = pendingScaleIns(nodes);
  if (pending.length === 0) return [];
  const counts = activeTasksByNode(view?.tasks ?? (await deps.tasks.listTasks()));
  const now = deps.clock.now();
  const results: ScaleInProgress[] = [];
  for (const node of pending) {
    // A node that went down while draining runs nothing any more, whatever Swarm last heard.
    const tasks = node.state === 'down' ? 0 : (counts.get(node.id) ?? 0);
    if (tasks > 0) {
      results.push({
        kind: 'draining',
        node: node.id,
        hostname: node.hostname,
        tasks,
        since: node.labels[SCALE_IN_LABEL] ?? '',
      });
      continue;
    }
    const claimed = Date.parse(node.labels[SCALE_IN_CLAIM_LABEL] ?? '');
    if (!Number.isNaN(claimed) && now.getTime() - claimed < CLAIM_EXPIRY_MS) {
      results.push({ kind: 'in-progress', node: node.id, hostname: node.hostname });
      continue;
    }
    try {
      await deps.swarm.updateNode(node, { labels: { [SCALE_IN_CLAIM_LABEL]: now.toISOString() } });
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      // Someone else changed the node since we read it: they claimed it, or it left.
      results.push({ kind: 'in-progress', node: node.id, hostname: node.hostname });
      continue;
    }
    const instance = node.engineLabels[INSTANCE_ID_LABEL];
    if (deps.group && instance) await deps.group.terminateAndShrink(instance);
    // Its instance is gone but Swarm may not have noticed yet: the node can still look Ready.
    await deps.swarm.removeNode(node.id, { force: true });
    log.info('scale-in completed', { node: node.id, hostname: node.hostname, instance });
    await deps.notifier.notify({
      severity: 'info',
      title: `Scaled in: ${node.hostname} left the swarm`,
      text:
        deps.group && instance
          ? `It was drained and ran no task; ${instance} was terminated and the worker group shrank by one.`
          : 'It was drained and ran no task; it was removed from the swarm (no cloud: the machine itself is left as it is).',
    });
    results.push({ kind: 'scaled-in', node: node.id, hostname: node.hostname, instance });
  }
  return results;
}
