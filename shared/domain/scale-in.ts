import type { TerminateResult, WorkerGroup } from './cloud';
import { publicMessage, VersionConflictError } from './errors';
import { INSTANCE_ID_LABEL, SCALE_IN_CLAIM_LABEL, SCALE_IN_LABEL } from './labels';
import type { Logger } from './log';
import type { Notifier } from './notice';
import { ACTIVE_TASK_STATES, type NodeState, type SwarmNodes, type TaskState } from './swarm';

/** A claim older than this belongs to a caller that died; the next one takes over. */
/**
 * Scale-in is two-phase and keeps its state on the node itself (node labels, versioned):
 * phase one drains the chosen worker and labels it; phase two — run by scale-nodes on each
 * call and by the sweep every minute — terminates its instance (shrinking the group) once
 * no task is left on it, then removes it from the swarm. A scale-in that cannot finish — a
 * task that never leaves, or Auto Scaling refusing the termination for good — is abandoned:
 * the worker is handed back (active again, labels removed) and a person is told.
 */
export const CLAIM_EXPIRY_MS = 120_000;
/** SCALE_IN_DRAIN_TIMEOUT_SECONDS when the caller passes none. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 900;

type NodeRef = { node: string; hostname: string };

export type ScaleInProgress =
  | (NodeRef & { kind: 'scaled-in'; instance: string | undefined })
  | (NodeRef & { kind: 'draining'; tasks: number; since: string })
  | (NodeRef & { kind: 'in-progress' })
  /** Abandoned: the worker is active again, its scale-in labels are gone, the group keeps its capacity. */
  | (NodeRef & { kind: 'handed-back'; reason: 'drain-timeout' | 'terminate-refused'; detail: string })
  /** Could not be finished now (AWS or Docker unavailable); the next call or sweep tries again. */
  | (NodeRef & { kind: 'failed'; detail: string });

export interface ScaleInDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'removeNode'>;
  tasks: { listTasks(): Promise<TaskState[]> };
  /** Undefined without AWS: the drained node is only removed from the swarm. */
  group: WorkerGroup | undefined;
  notifier: Notifier;
  clock: { now(): Date };
  /** SCALE_IN_DRAIN_TIMEOUT_SECONDS; DEFAULT_DRAIN_TIMEOUT_SECONDS when absent. */
  settings?: { scaleInDrainTimeoutSeconds?: number };
}

export interface CompleteOptions {
  /**
   * What a node whose completion failed for now (AWS throttled, Docker did not answer) becomes:
   * `throw` (the default) throws the first such error once every other node was tried;
   * `report` returns it as a `failed` entry, so that the caller can go on deciding.
   */
  failures?: 'throw' | 'report';
}

export function pendingScaleIns(nodes: readonly NodeState[]): NodeState[] {
  return nodes.filter((n) => n.labels[SCALE_IN_LABEL] !== undefined);
}

/** A caller is terminating this node's instance right now (its claim has not expired). */
export function isClaimed(node: NodeState, now: Date): boolean {
  const claimed = Date.parse(node.labels[SCALE_IN_CLAIM_LABEL] ?? '');
  return !Number.isNaN(claimed) && now.getTime() - claimed < CLAIM_EXPIRY_MS;
}

/** Tasks that still occupy each node. */
export function activeTasksByNode(tasks: readonly TaskState[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tasks) {
    if (t.nodeId && ACTIVE_TASK_STATES.has(t.state)) counts.set(t.nodeId, (counts.get(t.nodeId) ?? 0) + 1);
  }
  return counts;
}

/**
 * Ends a scale-in without terminating: the worker takes tasks again and no scale-in label is
 * left. One versioned update: VersionConflictError when the node changed since it was read.
 */
export function handBack(swarm: Pick<SwarmNodes, 'updateNode'>, node: NodeState): Promise<void> {
  return swarm.updateNode(node, {
    availability: 'active',
    labels: { [SCALE_IN_LABEL]: undefined, [SCALE_IN_CLAIM_LABEL]: undefined },
  });
}

/** Completes every pending scale-in whose node is empty; abandons those that cannot finish; reports the others. */
export async function completeScaleIns(
  deps: ScaleInDeps,
  log: Logger,
  view?: { nodes: readonly NodeState[]; tasks: readonly TaskState[] },
  options: CompleteOptions = {},
): Promise<ScaleInProgress[]> {
  const nodes = view?.nodes ?? (await deps.swarm.listNodes());
  const pending = pendingScaleIns(nodes);
  if (pending.length === 0) return [];
  const counts = activeTasksByNode(view?.tasks ?? (await deps.tasks.listTasks()));
  const now = deps.clock.now();
  const results: ScaleInProgress[] = [];
  const failures: unknown[] = [];
  // One node's failure never keeps the others from finishing.
  for (const node of pending) {
    try {
      results.push(await completeOne(deps, log, node, counts.get(node.id) ?? 0, now));
    } catch (error) {
      log.warn('scale-in completion failed; the next call or sweep tries again', {
        node: node.id,
        hostname: node.hostname,
        error,
      });
      failures.push(error);
      results.push({
        kind: 'failed',
        node: node.id,
        hostname: node.hostname,
        detail: `${publicMessage(error)}; the next call or sweep tries again`,
      });
    }
  }
  if (failures.length > 0 && options.failures !== 'report') throw failures[0];
  return results;
}

async function completeOne(
  deps: ScaleInDeps,
  log: Logger,
  node: NodeState,
  running: number,
  now: Date,
): Promise<ScaleInProgress> {
  const ref = { node: node.id, hostname: node.hostname };
  // A node that went down while draining runs nothing any more, whatever Swarm last heard.
  const tasks = node.state === 'down' ? 0 : running;
  if (tasks > 0) {
    const since = node.labels[SCALE_IN_LABEL] ?? '';
    const timeoutSeconds = deps.settings?.scaleInDrainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS;
    // A label we cannot read cannot be waited out either: it counts as expired.
    const started = Date.parse(since);
    if (!Number.isNaN(started) && now.getTime() - started < timeoutSeconds * 1_000) {
      return { ...ref, kind: 'draining', tasks, since };
    }
    return abandonDrain(deps, log, node, tasks, timeoutSeconds);
  }
  if (isClaimed(node, now)) return { ...ref, kind: 'in-progress' };
  try {
    await deps.swarm.updateNode(node, { labels: { [SCALE_IN_CLAIM_LABEL]: now.toISOString() } });
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    // Someone else changed the node since we read it: they claimed it, or it left.
    return { ...ref, kind: 'in-progress' };
  }
  const instance = node.engineLabels[INSTANCE_ID_LABEL];
  if (deps.group && instance) {
    const answer = await deps.group.terminateAndShrink(instance);
    if (answer.kind === 'refused') return abandonRefused(deps, log, node, instance, answer);
  }
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
  return { ...ref, kind: 'scaled-in', instance };
}

/** The drain ran past SCALE_IN_DRAIN_TIMEOUT_SECONDS: a task that never stops keeps the node. */
async function abandonDrain(
  deps: ScaleInDeps,
  log: Logger,
  node: NodeState,
  tasks: number,
  timeoutSeconds: number,
): Promise<ScaleInProgress> {
  const ref = { node: node.id, hostname: node.hostname };
  try {
    await handBack(deps.swarm, node);
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    // Changed since we read it (another caller handed it back, or claimed it): theirs to report.
    return { ...ref, kind: 'in-progress' };
  }
  const detail = `${tasks} task(s) still on it after SCALE_IN_DRAIN_TIMEOUT_SECONDS (${timeoutSeconds} s); it is active again and the group keeps its capacity`;
  log.warn('scale-in abandoned: the drain did not finish', { ...ref, tasks, timeoutSeconds });
  await deps.notifier.notify({
    severity: 'warning',
    title: `Scale-in of ${node.hostname} abandoned: still draining after ${timeoutSeconds} s`,
    text: `${tasks} task(s) did not leave ${node.hostname} within SCALE_IN_DRAIN_TIMEOUT_SECONDS (a task that never stops, such as one on a hung volume, keeps a drained node). It is active again and takes tasks; the worker group was not shrunk. See \`docker node ps ${node.hostname}\`.`,
  });
  return { ...ref, kind: 'handed-back', reason: 'drain-timeout', detail };
}

/**
 * Auto Scaling answered that the termination can never succeed (e.g. the group was lowered to
 * its minimum while the worker drained). Asking again would fail the same way for ever, so the
 * worker goes back to work. We hold the claim: re-read and retry a lost race, a few times.
 */
async function abandonRefused(
  deps: ScaleInDeps,
  log: Logger,
  node: NodeState,
  instance: string,
  refusal: Extract<TerminateResult, { kind: 'refused' }>,
): Promise<ScaleInProgress> {
  const ref = { node: node.id, hostname: node.hostname };
  for (let attempt = 1; ; attempt++) {
    const fresh = (await deps.swarm.listNodes()).find((n) => n.id === node.id);
    if (!fresh || fresh.labels[SCALE_IN_LABEL] === undefined) return { ...ref, kind: 'in-progress' };
    try {
      await handBack(deps.swarm, fresh);
      break;
    } catch (error) {
      if (attempt >= 3 || !(error instanceof VersionConflictError)) throw error;
    }
  }
  const detail = `Auto Scaling refused to terminate ${instance}: ${refusal.message}; it is active again and the group keeps its capacity`;
  log.warn('scale-in abandoned: Auto Scaling refused the termination', {
    ...ref,
    instance,
    reason: refusal.reason,
    message: refusal.message,
  });
  const hint =
    refusal.reason === 'at-min'
      ? ' The group is at its minimum (its desired capacity was lowered while the worker drained): lower the minimum to let it shrink.'
      : '';
  await deps.notifier.notify({
    severity: 'warning',
    title: `Scale-in of ${node.hostname} abandoned: Auto Scaling refused to terminate ${instance}`,
    text: `Auto Scaling answered "${refusal.message}". ${node.hostname} is active again and takes tasks; the worker group keeps its capacity.${hint}`,
  });
  return { ...ref, kind: 'handed-back', reason: 'terminate-refused', detail };
}
