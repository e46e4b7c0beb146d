import type { InstanceInfo } from '../../shared/domain/cloud';
import { nodeOnInstance } from '../../shared/domain/instance-nodes';
import { type Leaving, type LeavingCause, readLeaving, supersedes } from '../../shared/domain/leaving';
import { optOutOf } from '../../shared/domain/opt-out';
import type { NodeState } from '../../shared/domain/swarm';
import { decideLeaving } from './decide-leaving';
import type { LifecycleEvent } from './events';
import { markStep, notice, optedOut, outcome, plan } from './plan';
import { type Decision, type LifecycleOutcome, type LifecycleSettings, refOf } from './types';

/** An event that names instances (the others are screened out before anything is read). */
export type InstanceEvent = Extract<
  LifecycleEvent,
  { kind: 'terminate-hook' | 'spot' | 'rebalance' | 'scheduled' | 'state-change' }
>;

/** What an event is decided from besides itself: its instance (tagged, checked) and one read of the swarm. */
export interface EventView {
  instance: InstanceInfo;
  nodes: readonly NodeState[];
  tasksOn: (nodeId: string) => number;
  now: Date;
  /** Its Auto Scaling LifecycleState (Standby: a person took it out of service); undefined: not known. */
  lifecycleState?: string;
}

/** Events decided without reading anything: ignored, or (launch hook) left to the reconcile pass. */
export function screenEvent(
  event: LifecycleEvent,
  settings: LifecycleSettings,
): LifecycleOutcome | undefined {
  if (event.kind === 'health-other') {
    return {
      subject: event.id || 'health event',
      kind: 'ignored',
      reason: 'not-scheduled-change',
      detail: event.detail,
    };
  }
  if (event.kind === 'terminate-hook' || event.kind === 'launch-hook') {
    if (!settings.lifecycleGroups.includes(event.group)) {
      const detail = `${event.group} is not in LIFECYCLE_GROUPS: its hook is not ours to answer`;
      return {
        subject: event.instance,
        instance: event.instance,
        kind: 'ignored',
        reason: 'foreign-group',
        detail,
      };
    }
  }
  if (event.kind === 'launch-hook' && !settings.lifecycleHooks.includes(event.hook)) {
    const detail = `${event.hook} is not in LIFECYCLE_HOOKS: another tool's launch hook, left to it`;
    return {
      subject: event.instance,
      instance: event.instance,
      kind: 'ignored',
      reason: 'foreign-hook',
      detail,
    };
  }
  if (event.kind === 'launch-hook') {
    const detail = `${event.instance} waits in ${event.hook}: the reconcile pass completes it once a Ready node carries its ID, or abandons it after LAUNCH_JOIN_TIMEOUT_SECONDS (${settings.launchJoinTimeoutSeconds} s)`;
    return {
      subject: event.instance,
      instance: event.instance,
      kind: 'waiting',
      reason: 'launch-pending',
      detail,
    };
  }
  if (event.kind === 'state-change' && event.state !== 'shutting-down' && event.state !== 'terminated') {
    const detail = `${event.instance} is ${event.state}: only shutting-down and terminated are acted on`;
    return {
      subject: event.instance,
      instance: event.instance,
      kind: 'ignored',
      reason: 'not-leaving-state',
      detail,
    };
  }
  return undefined;
}

const causeOf = (event: InstanceEvent): LeavingCause =>
  event.kind === 'scheduled' ? 'scheduled' : event.kind;

/**
 * One event for one instance: the node is labelled as leaving (and drained, unless it is only
 * a warning) in one versioned update; a node labelled already is left to `decideLeaving`, the
 * rules the reconcile pass applies, so a second delivery changes nothing more than they would.
 */
export function decideEvent(event: InstanceEvent, v: EventView, settings: LifecycleSettings): Decision {
  const id = v.instance.id;
  const found = nodeOnInstance(v.instance, v.nodes);
  if ('none' in found) {
    const detail = `no node of the swarm runs on ${id} (engine label aws.instance-id or address ${v.instance.privateIp ?? 'unknown'})${event.kind === 'terminate-hook' ? ': the reconcile pass completes its hook' : ''}`;
    return outcome({ subject: id, instance: id, kind: 'ignored', reason: 'no-node', detail });
  }
  if ('ambiguous' in found) {
    const names = found.ambiguous.map((n) => `${n.hostname} (${n.id}, ${n.state})`).join(', ');
    const detail = `${id} backs several nodes (${names}): not touching any of them`;
    return outcome({ subject: id, instance: id, kind: 'ignored', reason: 'instance-in-use', detail });
  }
  const { node } = found;
  const cause = causeOf(event);
  const current = readLeaving(node.labels);
  // A node we started draining already is ours to finish; one a person opted out is never started.
  const optOut = current === undefined ? optOutOf(node, v.lifecycleState) : undefined;
  if (optOut) return optedOut(refOf(id, node), optOut, event.kind === 'terminate-hook');
  if (current === undefined || supersedes(cause, current.cause) || rescheduled(event, current)) {
    return decideMark(event, node, cause, v, settings);
  }
  const already = `${node.hostname} is already leaving (${current.cause} since ${current.since.toISOString()})`;
  const skipped = outcome({
    ...refOf(id, node),
    kind: 'skipped',
    reason: 'already-leaving',
    detail: already,
  });
  // A warning adds nothing to a node that is leaving; a departure may let it finish (down, or empty).
  if (cause === 'rebalance' || cause === 'scheduled') return skipped;
  const waits =
    event.kind === 'terminate-hook' && settings.lifecycleHooks.includes(event.hook)
      ? [
          {
            action: { group: event.group, hook: event.hook, instance: id },
            heartbeatTimeoutSeconds: undefined,
          },
        ]
      : [];
  const view = { node, leaving: current, nodes: v.nodes, tasks: v.tasksOn(node.id), waits, now: v.now };
  const decision = decideLeaving(view, settings);
  return 'outcome' in decision && decision.outcome.kind === 'waiting' && decision.outcome.reason === 'leaving'
    ? skipped
    : decision;
}

/** AWS Health moved the window: the label follows it. */
function rescheduled(event: InstanceEvent, current: Leaving): boolean {
  return (
    event.kind === 'scheduled' &&
    current.cause === 'scheduled' &&
    current.window?.start.getTime() !== event.window.start.getTime()
  );
}

function decideMark(
  event: InstanceEvent,
  node: NodeState,
  cause: LeavingCause,
  v: EventView,
  settings: LifecycleSettings,
): Decision {
  const id = v.instance.id;
  const ref = refOf(id, node);
  const who = `${node.role} ${node.hostname} (${id})`;
  const since = v.now;
  switch (event.kind) {
    case 'terminate-hook': {
      const ours = settings.lifecycleHooks.includes(event.hook);
      const leaves = `${who} drains, then leaves the swarm${ours ? ' and the hook is completed' : ''} once it runs no task (at most LIFECYCLE_DRAIN_TIMEOUT_SECONDS, ${settings.lifecycleDrainTimeoutSeconds} s)`;
      const foreign = ours
        ? ''
        : `; its hook ${event.hook} is not in LIFECYCLE_HOOKS: left to the tool that put it there`;
      const detail = `Auto Scaling is terminating ${id} (${event.group}): ${leaves}${foreign}`;
      return plan(ref, { kind: 'acted', reason: 'drained' }, detail, [
        markStep(node, { cause, since, group: event.group }, true),
        notice('info', `Draining ${node.hostname}: Auto Scaling is terminating ${id}`, `${detail}.`),
      ]);
    }
    case 'spot':
    case 'state-change': {
      const why =
        event.kind === 'spot'
          ? `EC2 will ${event.action} Spot instance ${id} in two minutes`
          : `${id} is ${event.state}`;
      const detail = `${why}: ${who} is drained now and removed from the swarm once it is down`;
      return plan(ref, { kind: 'acted', reason: 'drained' }, detail, [
        markStep(node, { cause, since }, true),
        notice('warning', `Draining ${node.hostname}: ${why}`, `${detail}.`),
      ]);
    }
    case 'rebalance': {
      const drain = settings.onRebalance === 'drain';
      const detail = `EC2 recommends rebalancing ${id} (its Spot capacity is at risk): ${who} ${drain ? 'is drained (ON_REBALANCE=drain)' : 'keeps its tasks (ON_REBALANCE=notify)'}`;
      return plan(ref, { kind: 'acted', reason: drain ? 'drained' : 'marked' }, detail, [
        markStep(node, { cause, since }, drain),
        notice(drain ? 'warning' : 'info', `Rebalance recommendation for ${node.hostname}`, `${detail}.`),
      ]);
    }
    case 'scheduled': {
      const { window } = event;
      const drain = window.start.getTime() - v.now.getTime() <= settings.scheduledDrainLeadSeconds * 1_000;
      const shown = `${window.start.toISOString()}${window.end ? ` to ${window.end.toISOString()}` : ''}`;
      const detail = `AWS Health scheduled ${event.code} for ${id}, window ${shown}: ${who} ${drain ? 'is drained now' : `is drained SCHEDULED_DRAIN_LEAD_SECONDS (${settings.scheduledDrainLeadSeconds} s) before it`}`;
      return plan(ref, { kind: 'acted', reason: drain ? 'drained' : 'marked' }, detail, [
        markStep(node, { cause, since, window }, drain),
        notice(
          'warning',
          `AWS maintenance for ${node.hostname} (${id}) at ${window.start.toISOString()}`,
          `${detail}.`,
        ),
      ]);
    }
  }
}
