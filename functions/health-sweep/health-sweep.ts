import type { Dispatcher, DispatchResult, ParameterStore, WorkerGroup } from '../../shared/domain/cloud';
import { type InstanceInfo, REPLACEMENT_RESUME_AFTER_MS } from '../../shared/domain/cloud';
import { QuorumLostError, ReflexError, VersionConflictError } from '../../shared/domain/errors';
import { joinParameterNames, managerAddresses } from '../../shared/domain/join-parameters';
import { REPLACING_NODE_TAG, RESCHEDULE_LABEL, SCALE_IN_LABEL } from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import type { Notice, Notifier } from '../../shared/domain/notice';
import { QUORUM_RECOVERY_PROCEDURE } from '../../shared/domain/quorum';
import {
  activeTasksByNode,
  completeScaleIns,
  pendingScaleIns,
  type ScaleInProgress,
} from '../../shared/domain/scale-in';
import {
  ACTIVE_TASK_STATES,
  type NodeState,
  type ServiceState,
  type SwarmNodes,
  type SwarmServices,
  type SwarmTasks,
  type TaskState,
} from '../../shared/domain/swarm';
import { unfinishedReplacements } from './unfinished-replacements';
import { crossedWithin, crossingNumber } from './window';

export { crossedWithin, crossingNumber } from './window';

/**
 * Every minute, one read of the whole swarm (nodes, services, tasks), and findings as data:
 * down nodes (replace-node is dispatched), quorum, under-replicated services, pending
 * scale-ins (completed), uneven spread after a node joined (rebalanced, opted-in services
 * only), stale manager addresses for joining nodes (sync-join-tokens is dispatched).
 *
 * It keeps no state. Each finding is reported to a person once, by the sweep whose interval
 * contains the moment the finding crossed its threshold, measured from a time Swarm keeps
 * (a node's UpdatedAt, a task's CreatedAt). The sweep never removes anything itself.
 */
export type Severity = Notice['severity'];

interface FindingBase {
  readonly severity: Severity;
  /** What it is about: a node's hostname, a service's name, `managers`, an SSM parameter. */
  readonly subject: string;
  /** Since when (ISO), from Swarm's own timestamps; null when nothing says. */
  readonly since: string | null;
  /** For a person: what is wrong and what was (or would be) done. */
  readonly detail: string;
}

export type Finding =
  | (FindingBase & {
      kind: 'node-down';
      node: string;
      action:
        | 'watching'
        | 'dispatched'
        | 'not-dispatched'
        | 'dispatch-failed'
        | 'not-due'
        | 'leaving'
        | 'dry-run';
    })
  | (FindingBase & {
      kind: 'quorum';
      state: 'lost' | 'at-risk' | 'no-leader';
      reachable: number | null;
      managers: number | null;
      action: 'watching' | 'notified' | 'notified-earlier' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'under-replicated';
      service: string;
      running: number;
      desired: number;
      action: 'watching' | 'notified' | 'notified-earlier' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'scale-in';
      node: string | null;
      action: 'completed' | 'draining' | 'in-progress' | 'handed-back' | 'failed' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'rebalance';
      service: string;
      action: 'force-updated' | 'conflict' | 'failed' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'replacement-unfinished';
      instance: string;
      node: string;
      action: 'watching' | 'dispatched' | 'not-dispatched' | 'dispatch-failed' | 'not-due' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'replacement-unfinished';
      /** EC2 could not list the tagged instances: none is named, and the next sweep reads again. */
      instance: null;
      node: null;
      action: 'read-failed';
    })
  | (FindingBase & {
      kind: 'join-tokens';
      action: 'dispatched' | 'not-dispatched' | 'dispatch-failed' | 'not-checked' | 'read-failed' | 'dry-run';
    });

export type FindingKind = Finding['kind'];

/** Without a leader nothing says since when: the sweep says so this often instead of every minute. */
export const NO_LEADER_REMIND_SECONDS = 600;

// ---------------------------------------------------------------------------------------
// Pure assessments of one read

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

// ---------------------------------------------------------------------------------------
// The sweep

export interface HealthSweepDeps {
  nodes: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'removeNode'>;
  services: Pick<SwarmServices, 'listServices' | 'forceUpdate'>;
  tasks: Pick<SwarmTasks, 'listTasks'>;
  /** The worker group a completed scale-in shrinks; undefined without AWS. */
  group: WorkerGroup | undefined;
  /** The cluster's instances tagged as being replaced (EC2); undefined without AWS. */
  replacements?: { list(): Promise<InstanceInfo[]> };
  dispatcher: Dispatcher;
  /** Where the manager addresses for joining nodes are kept, or why they are not checked. */
  joinParameters: { store: Pick<ParameterStore, 'get'>; settingsPrefix: string } | { notChecked: string };
  notifier: Notifier;
  clock: { now(): Date };
  settings: {
    nodeDownGraceSeconds: number;
    sweepIntervalSeconds: number;
    underReplicatedSeconds: number;
    /** SCALE_IN_DRAIN_TIMEOUT_SECONDS: a drain older than this is handed back (shared/scale-in). */
    scaleInDrainTimeoutSeconds?: number;
  };
}

export interface SweepInput {
  /**
   * The sweep's time: the schedule's time for a scheduled run (consecutive ones are exactly
   * one interval apart, however late Lambda starts them), else now.
   */
  at: Date;
  dryRun: boolean;
  log: Logger;
  /** When to stop waiting for messages (epoch ms): Lambda's deadline less the edge's margin; late ones are dropped, never repeated. */
  deadline?: number;
}

export type SweepResult = {
  dryRun: boolean;
  at: string;
  outcomes: Finding[];
};

interface Context {
  deps: HealthSweepDeps;
  input: SweepInput;
  intervalMs: number;
  /** Messages under way: sent at once, all together, and awaited at the end within the deadline. */
  outbox: Array<Promise<void>>;
}

export async function sweep(deps: HealthSweepDeps, input: SweepInput): Promise<SweepResult> {
  const ctx: Context = { deps, input, intervalMs: deps.settings.sweepIntervalSeconds * 1_000, outbox: [] };
  try {
    return await findAll(ctx);
  } finally {
    await sent(ctx);
  }
}

/** Waits for the messages under way, but never past the deadline: what is late is logged and left. */
async function sent(ctx: Context): Promise<void> {
  const all = Promise.allSettled(ctx.outbox).then(() => 'sent' as const);
  const deadline = ctx.input.deadline;
  if (deadline === undefined) {
    await all;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
  });
  const outcome = await Promise.race([all, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    ctx.input.log.warn('messages still being sent at the deadline: left unfinished, not repeated', {
      messages: ctx.outbox.length,
    });
  }
}

async function findAll(ctx: Context): Promise<SweepResult> {
  const { deps, input } = ctx;
  const result = (outcomes: Finding[]): SweepResult => ({
    dryRun: input.dryRun,
    at: input.at.toISOString(),
    outcomes,
  });
  const reads = await Promise.allSettled([
    deps.nodes.listNodes(),
    deps.services.listServices(),
    deps.tasks.listTasks(),
  ]);
  const failed = reads.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const lost = failed.find((e): e is QuorumLostError => e instanceof QuorumLostError);
  if (lost) return result([await noLeader(ctx, lost)]);
  if (failed.length > 0) throw failed[0];
  const [nodes, services, tasks] = reads.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    NodeState[],
    ServiceState[],
    TaskState[],
  ];

  const findings: Finding[] = [];
  findings.push(...(await quorum(ctx, nodes)));
  findings.push(...(await downNodes(ctx, nodes)));
  findings.push(...(await halfDoneReplacements(ctx, nodes)));
  findings.push(...(await replicaShortfalls(ctx, services, tasks)));
  findings.push(...(await scaleIns(ctx, nodes, tasks)));
  findings.push(...(await rebalance(ctx, services, nodes, tasks)));
  findings.push(...(await joinTokens(ctx, nodes)));
  return result(findings);
}

const iso = (d: Date | undefined) => (d === undefined ? null : d.toISOString());

/** Human duration: 45 s, 5 min, 2 h 10 min. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1_000));
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Queues a message: every message of a sweep goes out at once, in parallel, so that many
 * findings and a slow chat service still end within the function's time (see `sent`).
 */
async function tell(ctx: Context, notice: Notice): Promise<void> {
  ctx.outbox.push(
    ctx.deps.notifier.notify(notice).then(
      () => undefined,
      // The notifier never throws by contract; a finding must not be lost if one does.
      (error: unknown) => ctx.input.log.error('notification failed', { error, notice: notice.title }),
    ),
  );
}

function errorText(error: unknown): string {
  return error instanceof ReflexError
    ? error.message
    : `unexpected error (${(error as Error)?.name ?? 'Error'})`;
}

async function noLeader(ctx: Context, error: QuorumLostError): Promise<Finding> {
  const { input } = ctx;
  const due = crossedWithin(input.at.getTime() % (NO_LEADER_REMIND_SECONDS * 1_000), 0, ctx.intervalMs);
  const detail =
    `No manager we reach sees a leader (${error.message}): too few managers are reachable, and no change can be made until a person restores quorum. ` +
    `${QUORUM_RECOVERY_PROCEDURE} ` +
    `Nothing says since when, so the sweep reports this every ${NO_LEADER_REMIND_SECONDS / 60} minutes while it lasts.`;
  const finding: Finding = {
    kind: 'quorum',
    state: 'no-leader',
    severity: 'critical',
    subject: 'managers',
    since: null,
    reachable: null,
    managers: null,
    detail,
    action: !due ? 'notified-earlier' : input.dryRun ? 'dry-run' : 'notified',
  };
  if (due && !input.dryRun) {
    await tell(ctx, { severity: 'critical', title: 'Swarm has no leader: quorum lost', text: detail });
  }
  return finding;
}

async function quorum(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const view = assessQuorum(nodes);
  if (view.state === 'ok') return [];
  const { input } = ctx;
  const since = view.since ?? input.at;
  const due = view.settled && crossedWithin(input.at.getTime() - since.getTime(), 0, ctx.intervalMs);
  const gone = view.unreachable.map((n) => `${n.hostname} (${n.state} since ${n.updatedAt.toISOString()})`);
  const ratio = `${view.reachable} of ${view.managers} managers reachable`;
  const detail =
    view.state === 'lost'
      ? `Quorum lost: ${ratio}${gone.length > 0 ? `; unreachable: ${gone.join(', ')}` : ''}. No change can be made until a person restores a majority: bring the managers back. ${QUORUM_RECOVERY_PROCEDURE}`
      : view.unreachable.length > 0
        ? `Quorum at risk: ${ratio}; unreachable: ${gone.join(', ')}. One more manager loss and the swarm stops accepting changes. Bring it back or let replace-node replace it once it is down past the grace period.`
        : view.managers === 1
          ? 'Quorum at risk: a single manager. Losing it loses the swarm; run 3 (or 5) managers.'
          : `Quorum at risk: ${view.managers} managers, an even number, tolerate no more failures than ${view.managers - 1}. Add or remove one manager.`;
  const finding: Finding = {
    kind: 'quorum',
    state: view.state,
    severity: 'critical',
    subject: 'managers',
    since: since.toISOString(),
    reachable: view.reachable,
    managers: view.managers,
    detail: view.settled
      ? detail
      : `${detail} (Reported once Swarm marks the unreachable manager down: that time is the report's "since".)`,
    action: !view.settled ? 'watching' : !due ? 'notified-earlier' : input.dryRun ? 'dry-run' : 'notified',
  };
  if (due && !input.dryRun) {
    await tell(ctx, {
      severity: 'critical',
      title: view.state === 'lost' ? `Swarm quorum lost: ${ratio}` : `Swarm quorum at risk: ${ratio}`,
      text: detail,
    });
  }
  return [finding];
}

async function downNodes(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const { deps, input } = ctx;
  const graceMs = deps.settings.nodeDownGraceSeconds * 1_000;
  const findings: Finding[] = [];
  for (const node of nodes.filter((n) => n.state === 'down')) {
    const downFor = input.at.getTime() - node.updatedAt.getTime();
    const base = {
      kind: 'node-down' as const,
      node: node.id,
      subject: node.hostname || node.id,
      since: node.updatedAt.toISOString(),
    };
    const what = `${node.role} ${node.hostname || node.id} is down since ${node.updatedAt.toISOString()} (${duration(downFor)})`;
    if (node.labels[SCALE_IN_LABEL] !== undefined) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'leaving',
        detail: `${what}; it is being scaled in, so it is not replaced.`,
      });
      continue;
    }
    if (downFor < graceMs) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'watching',
        detail: `${what}, within the grace period of ${deps.settings.nodeDownGraceSeconds} s: replace-node is dispatched once it has passed.`,
      });
      continue;
    }
    if (!crossedWithin(downFor, graceMs, ctx.intervalMs, graceMs)) {
      findings.push({
        ...base,
        severity: 'warning',
        action: 'not-due',
        detail: `${what}, past the grace period: replace-node is dispatched once per grace window (${deps.settings.nodeDownGraceSeconds} s), when the down time crosses a multiple of it; not in this sweep.`,
      });
      continue;
    }
    const first = crossingNumber(downFor, graceMs, ctx.intervalMs, graceMs) === 1;
    if (input.dryRun) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'dry-run',
        detail: `${what}: would dispatch replace-node (dry run).`,
      });
      continue;
    }
    const sent = await dispatchReplaceNode(ctx, () => deps.dispatcher.replaceNode(node.id), {
      subject: base.subject,
      failed: (why) =>
        `${what}: replace-node could not be dispatched (${why}). The next grace window tries again; Alertmanager's node-down route is the other way in.`,
      logKeys: { node: node.id },
    });
    if ('failed' in sent) {
      findings.push({ ...base, severity: 'warning', action: 'dispatch-failed', detail: sent.failed });
      continue;
    }
    if (!sent.dispatched) {
      const detail = `${what}, past the grace period: ${sent.detail}. Replace it by hand, or run replace-node for it.`;
      findings.push({ ...base, severity: 'warning', action: 'not-dispatched', detail });
      if (first)
        await tell(ctx, { severity: 'warning', title: `Node ${base.subject} is down`, text: detail });
      continue;
    }
    const detail = `${what}: dispatched replace-node (${sent.to})${first ? '' : ' again'}; it applies its safety rules and reports what it does.`;
    findings.push({ ...base, severity: 'info', action: 'dispatched', detail });
    if (first) {
      await tell(ctx, {
        severity: 'info',
        title: `Node ${base.subject} is down: replace-node dispatched`,
        text: detail,
      });
    }
  }
  return findings;
}

/**
 * Dispatches replace-node; a dispatch that could not be queued is logged and told (warning),
 * and comes back as `{ failed: detail }` for the finding. The next grace window tries again.
 */
async function dispatchReplaceNode(
  ctx: Context,
  send: () => Promise<DispatchResult>,
  about: { subject: string; failed: (why: string) => string; logKeys: Record<string, string> },
): Promise<DispatchResult | { failed: string }> {
  try {
    return await send();
  } catch (error) {
    ctx.input.log.error('dispatch failed', { error, ...about.logKeys, to: 'replace-node' });
    const failed = about.failed(errorText(error));
    await tell(ctx, {
      severity: 'warning',
      title: `Could not dispatch replace-node for ${about.subject}`,
      text: failed,
    });
    return { failed };
  }
}

async function halfDoneReplacements(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const { deps, input } = ctx;
  if (!deps.replacements) return [];
  const timing = { intervalMs: ctx.intervalMs, graceMs: deps.settings.nodeDownGraceSeconds * 1_000 };
  const findings: Finding[] = [];
  // A failed EC2 read is a finding, never thrown: a failed sweep is retried by Lambda with the
  // same event, which would send the messages already sent again and skip the checks after this one.
  let tagged: InstanceInfo[];
  try {
    tagged = await deps.replacements.list();
  } catch (error) {
    input.log.error('listing the half-done replacements failed', { error });
    return [
      {
        kind: 'replacement-unfinished',
        severity: 'warning',
        subject: REPLACING_NODE_TAG,
        since: null,
        instance: null,
        node: null,
        action: 'read-failed',
        detail: `could not list the instances tagged ${REPLACING_NODE_TAG} (half-done replacements): ${errorText(error)}; the next sweep reads them again.`,
      },
    ];
  }
  for (const r of unfinishedReplacements(tagged, nodes, input.at, timing)) {
    const base = {
      kind: 'replacement-unfinished' as const,
      instance: r.instance.id,
      node: r.nodeId,
      subject: r.hostname || r.instance.id,
      since: r.since.toISOString(),
    };
    const what = `${r.instance.id} (${base.subject}) has been tagged as being replaced since ${base.since}; its node ${r.nodeId} left the swarm but the instance is still ${r.instance.state}`;
    const elapsed = input.at.getTime() - r.since.getTime();
    if (elapsed < REPLACEMENT_RESUME_AFTER_MS) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'watching',
        detail: `${what}; its replacement may still be running.`,
      });
      continue;
    }
    if (!r.due) {
      findings.push({
        ...base,
        severity: 'warning',
        action: 'not-due',
        detail: `${what}; replace-node is dispatched once per grace window.`,
      });
      continue;
    }
    if (input.dryRun) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'dry-run',
        detail: `${what}: would dispatch replace-node (dry run).`,
      });
      continue;
    }
    const sent = await dispatchReplaceNode(ctx, () => deps.dispatcher.replaceInstance(r.instance.id), {
      subject: r.instance.id,
      failed: (why) =>
        `${what}: replace-node could not be dispatched (${why}); the next grace window tries again.`,
      logKeys: { instance: r.instance.id },
    });
    if ('failed' in sent) {
      findings.push({ ...base, severity: 'warning', action: 'dispatch-failed', detail: sent.failed });
      continue;
    }
    const detail = sent.dispatched
      ? `${what}: dispatched replace-node (${sent.to}) to finish it; it re-checks everything before it terminates.`
      : `${what}: ${sent.detail}. Terminate it by hand once you have checked it runs no node.`;
    findings.push({
      ...base,
      severity: 'warning',
      action: sent.dispatched ? 'dispatched' : 'not-dispatched',
      detail,
    });
    if (r.first)
      await tell(ctx, {
        severity: 'warning',
        title: `Unfinished replacement of ${base.subject}`,
        text: detail,
      });
  }
  return findings;
}

async function replicaShortfalls(
  ctx: Context,
  services: readonly ServiceState[],
  tasks: readonly TaskState[],
): Promise<Finding[]> {
  const { deps, input } = ctx;
  const thresholdMs = deps.settings.underReplicatedSeconds * 1_000;
  const findings: Finding[] = [];
  for (const u of underReplicated(services, tasks)) {
    const elapsed = input.at.getTime() - u.since.getTime();
    const why = u.errors.length > 0 ? ` Swarm says: ${u.errors.slice(0, 3).join('; ')}.` : '';
    const what = `${u.service.name} runs ${u.running} of ${u.desired} tasks since ${u.since.toISOString()} (${duration(elapsed)}).${why}`;
    const base = {
      kind: 'under-replicated' as const,
      service: u.service.id,
      subject: u.service.name,
      since: u.since.toISOString(),
      running: u.running,
      desired: u.desired,
    };
    if (elapsed < thresholdMs) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'watching',
        detail: `${what} Reported if it lasts ${deps.settings.underReplicatedSeconds} s.`,
      });
      continue;
    }
    const due = crossedWithin(elapsed, thresholdMs, ctx.intervalMs);
    const action = !due ? 'notified-earlier' : input.dryRun ? 'dry-run' : 'notified';
    findings.push({ ...base, severity: 'warning', action, detail: what });
    if (action === 'notified') {
      await tell(ctx, {
        severity: 'warning',
        title: `Service ${u.service.name} under-replicated: ${u.running} of ${u.desired} tasks running`,
        text: `${what} Check placement constraints, resources and the nodes (\`docker service ps ${u.service.name}\`).`,
      });
    }
  }
  return findings;
}

async function scaleIns(ctx: Context, nodes: readonly NodeState[], tasks: readonly TaskState[]) {
  const { deps, input } = ctx;
  const pending = pendingScaleIns(nodes);
  if (pending.length === 0) return [];
  if (input.dryRun) {
    const counts = activeTasksByNode(tasks);
    return pending.map((n): Finding => {
      const left = counts.get(n.id) ?? 0;
      return {
        kind: 'scale-in',
        node: n.id,
        severity: 'info',
        subject: n.hostname,
        since: n.labels[SCALE_IN_LABEL] ?? null,
        action: left > 0 ? 'draining' : 'dry-run',
        detail:
          left > 0
            ? `being scaled in: ${left} task(s) still on it`
            : 'being scaled in and empty: would terminate its instance and remove it (dry run)',
      };
    });
  }
  let progress: ScaleInProgress[];
  try {
    progress = await completeScaleIns(
      {
        swarm: deps.nodes,
        tasks: deps.tasks,
        group: deps.group,
        notifier: deps.notifier,
        clock: deps.clock,
        settings: deps.settings,
      },
      input.log,
      { nodes, tasks },
      // One node's failure is that node's finding; the others are still completed.
      { failures: 'report' },
    );
  } catch (error) {
    input.log.error('scale-in completion failed', { error });
    return [
      {
        kind: 'scale-in',
        node: null,
        severity: 'warning',
        subject: pending.map((n) => n.hostname).join(', '),
        since: null,
        action: 'failed',
        detail: `completing the pending scale-in(s) failed: ${errorText(error)}. The next sweep tries again.`,
      } satisfies Finding,
    ];
  }
  return progress.map((p): Finding => {
    const base = { kind: 'scale-in' as const, node: p.node, severity: 'info' as const, subject: p.hostname };
    if (p.kind === 'scaled-in') {
      return {
        ...base,
        since: null,
        action: 'completed',
        detail: p.instance
          ? `drained and empty: ${p.instance} terminated, the worker group shrank by one, node removed`
          : 'drained and empty: removed from the swarm (no cloud: the machine is left as it is)',
      };
    }
    if (p.kind === 'draining') {
      return {
        ...base,
        since: p.since || null,
        action: 'draining',
        detail: `${p.tasks} task(s) still on it`,
      };
    }
    // completeScaleIns has told the people about these already.
    if (p.kind === 'handed-back')
      return { ...base, severity: 'warning', since: null, action: 'handed-back', detail: p.detail };
    if (p.kind === 'failed')
      return {
        ...base,
        severity: 'warning',
        since: null,
        action: 'failed',
        detail: `${p.detail}. The next sweep tries again.`,
      };
    return { ...base, since: null, action: 'in-progress', detail: 'another caller is completing it' };
  });
}

async function rebalance(
  ctx: Context,
  services: readonly ServiceState[],
  nodes: readonly NodeState[],
  tasks: readonly TaskState[],
): Promise<Finding[]> {
  const { deps, input } = ctx;
  const findings: Finding[] = [];
  for (const c of rebalanceCandidates(services, nodes, tasks)) {
    const newest = c.idle.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
    const idle = c.idle.map((n) => n.hostname).join(', ');
    const what = `${idle} joined after ${c.service.name}'s last update and ${c.idle.length === 1 ? 'runs' : 'run'} none of its tasks, while ${c.crowded.node?.hostname ?? 'a node'} runs ${c.crowded.tasks}`;
    const base = {
      kind: 'rebalance' as const,
      service: c.service.id,
      subject: c.service.name,
      since: newest.createdAt.toISOString(),
    };
    if (input.dryRun) {
      findings.push({
        ...base,
        severity: 'info',
        action: 'dry-run',
        detail: `${what}: would force-update it (dry run).`,
      });
      continue;
    }
    try {
      await deps.services.forceUpdate(c.service);
    } catch (error) {
      if (error instanceof VersionConflictError) {
        findings.push({
          ...base,
          severity: 'info',
          action: 'conflict',
          detail: `${what}; it changed while the sweep looked (someone updated it): left alone this time.`,
        });
        continue;
      }
      input.log.error('force update failed', { error, service: c.service.name });
      findings.push({
        ...base,
        severity: 'warning',
        action: 'failed',
        detail: `${what}; the force update failed: ${errorText(error)}.`,
      });
      continue;
    }
    const detail = `${what}: force-updated (${RESCHEDULE_LABEL}=true), so Swarm spreads its tasks again.`;
    findings.push({ ...base, severity: 'info', action: 'force-updated', detail });
    await tell(ctx, { severity: 'info', title: `Rebalanced ${c.service.name} onto ${idle}`, text: detail });
  }
  return findings;
}

async function joinTokens(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const { deps, input } = ctx;
  const where = deps.joinParameters;
  if ('notChecked' in where) {
    return [
      {
        kind: 'join-tokens',
        severity: 'info',
        subject: 'manager-addresses',
        since: null,
        action: 'not-checked',
        detail: `the manager addresses new nodes join with were not checked: ${where.notChecked}`,
      },
    ];
  }
  const name = joinParameterNames(where.settingsPrefix).managers;
  const want = managerAddresses(nodes).join(',');
  if (want === '') return [];
  let stored: { value: string; lastModified: Date | undefined } | undefined;
  try {
    stored = (await where.store.get([name])).get(name);
  } catch (error) {
    input.log.error('reading the manager addresses failed', { error, parameter: name });
    return [
      {
        kind: 'join-tokens',
        severity: 'warning',
        subject: name,
        since: null,
        action: 'read-failed',
        detail: `could not read ${name}: ${errorText(error)}`,
      },
    ];
  }
  if (stored?.value === want) return [];
  const what =
    stored === undefined
      ? `${name} is missing; new nodes could not find a manager to join (reachable: ${want})`
      : `${name} lists ${stored.value || '(nothing)'}, but the reachable managers are ${want}`;
  const base = {
    kind: 'join-tokens' as const,
    severity: 'warning' as const,
    subject: name,
    since: iso(stored?.lastModified),
  };
  if (input.dryRun)
    return [{ ...base, action: 'dry-run', detail: `${what}: would dispatch sync-join-tokens (dry run).` }];
  try {
    const sent = await deps.dispatcher.syncJoinTokens();
    return [
      sent.dispatched
        ? { ...base, action: 'dispatched', detail: `${what}: dispatched sync-join-tokens (${sent.to}).` }
        : { ...base, action: 'not-dispatched', detail: `${what}: ${sent.detail}.` },
    ];
  } catch (error) {
    input.log.error('dispatch failed', { error, to: 'sync-join-tokens' });
    return [
      {
        ...base,
        action: 'dispatch-failed',
        detail: `${what}: sync-join-tokens could not be dispatched (${errorText(error)}); the next sweep tries again.`,
      },
    ];
  }
}
