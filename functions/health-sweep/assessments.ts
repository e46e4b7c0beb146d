import { RESCHEDULE_LABEL, SCALE_IN_LABEL } from '../../shared/domain/labels';
import {
  ACTIVE_TASK_STATES,
  type NodeState,
  type ServiceState,
  type TaskState,
} from '../../shared/domain/swarm';

// Pure assessments of one read of the swarm.

export interface QuorumView {
  managers: number;
  reachable: number;
  state: 'ok' | 'lost' | 'at-risk';
  /** When the current condition began: the latest unreachable manager's UpdatedAt, else the latest manager change. */
  since: Date | undefined;
  /**
   * False while an unreachable manager is not yet marked down: raft notices a loss a few
   * seconds before the node's status (and so its UpdatedAt, the "since") changes.
   */
  settled: boolean;
  unreachable: NodeState[];
}

/**
 * Raft needs more than half of the managers. Lost: half or fewer are reachable. At risk: one
 * more loss would lose it, or an even number of managers (which tolerates no more failures
 * than one fewer). A single manager is at risk: losing it loses the swarm.
 */
export function assessQuorum(nodes: readonly NodeState[]): QuorumView {
  const managers = nodes.filter((n) => n.role === 'manager');
  const reachable = managers.filter((m) => m.manager?.reachability === 'reachable');
  const unreachable = managers.filter((m) => m.manager?.reachability !== 'reachable');
  const total = managers.length;
  const r = reachable.length;
  const state =
    total === 0 ? 'ok' : r <= total / 2 ? 'lost' : r - 1 <= total / 2 || total % 2 === 0 ? 'at-risk' : 'ok';
  const latest = (list: readonly NodeState[]) =>
    list.length === 0 ? undefined : new Date(Math.max(...list.map((n) => n.updatedAt.getTime())));
  return {
    managers: total,
    reachable: r,
    state,
    since: latest(unreachable) ?? latest(managers),
    settled: unreachable.every((n) => n.state === 'down'),
    unreachable,
  };
}

export interface UnderReplication {
  service: ServiceState;
  running: number;
  desired: number;
  since: Date;
  /** What Swarm says about the tasks that should run but do not ("no suitable node (…)"). */
  errors: string[];
}

/**
 * Replicated services running fewer tasks (running, and meant to be) than their replicas.
 * Since: the oldest task that should be running but is not, else the service's last update.
 */
export function underReplicated(
  services: readonly ServiceState[],
  tasks: readonly TaskState[],
): UnderReplication[] {
  const out: UnderReplication[] = [];
  for (const service of services) {
    const desired = service.replicas ?? 0;
    if (service.mode !== 'replicated' || desired <= 0) continue;
    const own = tasks.filter((t) => t.serviceId === service.id && t.desiredState === 'running');
    const running = own.filter((t) => t.state === 'running').length;
    if (running >= desired) continue;
    const waiting = own.filter((t) => t.state !== 'running');
    const created = waiting.flatMap((t) => (t.createdAt ? [t.createdAt.getTime()] : []));
    const since = created.length > 0 ? new Date(Math.min(...created)) : service.updatedAt;
    const errors = [...new Set(waiting.flatMap((t) => (t.error ? [t.error] : [])))];
    out.push({ service, running, desired, since, errors });
  }
  return out;
}

export interface RebalanceCandidate {
  service: ServiceState;
  /** Ready, active workers that joined after the service's last update and hold none of its tasks. */
  idle: NodeState[];
  /** The most tasks of the service on one node. */
  crowded: { node: NodeState | undefined; tasks: number };
}

/**
 * Opted-in replicated services whose tasks did not spread onto a worker that joined after the
 * service's last update, while another node holds two or more of them. A force update moves
 * the service's UpdatedAt past the node's join time, so the same join never triggers twice.
 */
export function rebalanceCandidates(
  services: readonly ServiceState[],
  nodes: readonly NodeState[],
  tasks: readonly TaskState[],
): RebalanceCandidate[] {
  const out: RebalanceCandidate[] = [];
  for (const service of services) {
    if (service.labels[RESCHEDULE_LABEL] !== 'true' || service.mode !== 'replicated') continue;
    const perNode = new Map<string, number>();
    const occupied = new Set<string>();
    for (const t of tasks) {
      if (t.serviceId !== service.id || t.desiredState !== 'running' || t.nodeId === '') continue;
      // A node with a task still starting is not idle; but only placed, running tasks crowd a
      // node: a pending task without a node (no room) is not fixed by a rolling restart, and
      // counting it would restart the service at every join.
      if (ACTIVE_TASK_STATES.has(t.state)) occupied.add(t.nodeId);
      if (t.state === 'running') perNode.set(t.nodeId, (perNode.get(t.nodeId) ?? 0) + 1);
    }
    const idle = nodes.filter(
      (n) =>
        n.role === 'worker' &&
        n.state === 'ready' &&
        n.availability === 'active' &&
        n.labels[SCALE_IN_LABEL] === undefined &&
        n.createdAt.getTime() > service.updatedAt.getTime() &&
        !occupied.has(n.id),
    );
    let crowded: RebalanceCandidate['crowded'] = { node: undefined, tasks: 0 };
    for (const [id, count] of perNode) {
      if (count > crowded.tasks) crowded = { node: nodes.find((n) => n.id === id), tasks: count };
    }
    if (idle.length > 0 && crowded.tasks >= 2) out.push({ service, idle, crowded });
  }
  return out;
}
