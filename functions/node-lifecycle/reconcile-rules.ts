import type { InstanceInfo } from '../../shared/domain/cloud';
import { nodeOnInstance } from '../../shared/domain/instance-nodes';
import { INSTANCE_ID_LABEL, LEAVING_HEARTBEAT_LABEL } from '../../shared/domain/labels';
import { readLeaving, supersedes } from '../../shared/domain/leaving';
import {
  type GroupInstance,
  type LifecycleHook,
  PENDING_WAIT,
  TERMINATING_WAIT,
  WARMED_PENDING_WAIT,
  WARMED_TERMINATING_WAIT,
} from '../../shared/domain/lifecycle';
import { optOutOf } from '../../shared/domain/opt-out';
import type { NodeState } from '../../shared/domain/swarm';
import { decideLeaving, type Wait } from './decide-leaving';
import { completeSteps, heartbeatSteps, markStep, notice, optedOut, outcome, plan } from './plan';
import { type Decision, type LifecycleSettings, refOf } from './types';

export const TERMINATING_STATES: ReadonlySet<string> = new Set([TERMINATING_WAIT, WARMED_TERMINATING_WAIT]);
export const PENDING_STATES: ReadonlySet<string> = new Set([PENDING_WAIT, WARMED_PENDING_WAIT]);

/** One read of everything the reconcile pass decides from. */
export interface ReconcileView {
  now: Date;
  nodes: readonly NodeState[];
  tasksOn: (nodeId: string) => number;
  /** The hooks of each group that has a waiting instance. */
  hooks: ReadonlyMap<string, readonly LifecycleHook[]>;
  /** EC2's view of each waiting instance (undefined: EC2 does not list it). */
  ec2: ReadonlyMap<string, InstanceInfo | undefined>;
}

const tagged = (i: InstanceInfo, tag: LifecycleSettings['clusterTag']) => i.tags[tag.key] === tag.value;

/** The instance's waits in our own hooks (LIFECYCLE_HOOKS) for this transition: the only ones answered. */
function waitsOf(
  gi: GroupInstance,
  view: ReconcileView,
  settings: LifecycleSettings,
  transition: 'launch' | 'terminate',
): Wait[] {
  return (view.hooks.get(gi.group) ?? [])
    .filter((h) => h.transition === transition && settings.lifecycleHooks.includes(h.name))
    .map((h) => ({
      action: { group: gi.group, hook: h.name, instance: gi.id },
      heartbeatTimeoutSeconds: h.heartbeatTimeoutSeconds,
    }));
}

/** An instance that waits in no hook of ours (only in another tool's): nothing to answer. */
function notOurs(gi: GroupInstance, view: ReconcileView, transition: 'launch' | 'terminate'): Decision {
  const names = (view.hooks.get(gi.group) ?? [])
    .filter((h) => h.transition === transition)
    .map((h) => h.name);
  const detail = `${gi.id} (${gi.group}) waits only in ${transition} hooks not named in LIFECYCLE_HOOKS (${names.join(', ') || 'none listed'}): left to the tool whose hooks they are (if they are swarm-reflex's, add them to LIFECYCLE_HOOKS)`;
  return outcome({ subject: gi.id, instance: gi.id, kind: 'ignored', reason: 'foreign-hook', detail });
}

/** An instance in Terminating:Wait: its node drains and leaves first; without a node, the hook is completed at once. */
export function decideTerminatingInstance(
  gi: GroupInstance,
  view: ReconcileView,
  settings: LifecycleSettings,
): { decision: Decision; node?: NodeState } {
  const waits = waitsOf(gi, view, settings, 'terminate');
  const actions = waits.map((w) => w.action);
  const info = view.ec2.get(gi.id);
  const id = gi.id;
  if (info && !tagged(info, settings.clusterTag)) {
    const detail = `${id} (${gi.group}) does not carry the cluster tag: its hook is not answered`;
    return {
      decision: outcome({
        subject: id,
        instance: id,
        kind: 'ignored',
        reason: 'not-cluster-instance',
        detail,
      }),
    };
  }
  const found = nodeOnInstance(info ?? { id, privateIp: undefined }, view.nodes);
  if ('ambiguous' in found) {
    const names = found.ambiguous.map((n) => n.hostname).join(', ');
    const detail = `${id} backs several nodes (${names}): its hook is left to its timeout`;
    return {
      decision: outcome({ subject: id, instance: id, kind: 'ignored', reason: 'instance-in-use', detail }),
    };
  }
  if ('none' in found) {
    if (actions.length === 0) return { decision: notOurs(gi, view, 'terminate') };
    const detail = `${id} (${gi.group}) runs no node of the swarm: its terminate hook is completed`;
    const steps = [
      ...completeSteps(actions, 'CONTINUE'),
      notice('info', `${id} leaves ${gi.group}`, `${detail}.`),
    ];
    return { decision: plan(refOf(id), { kind: 'acted', reason: 'completed' }, detail, steps) };
  }
  const { node } = found;
  const current = readLeaving(node.labels);
  if (current && !supersedes('terminate-hook', current.cause)) {
    const view1 = {
      node,
      leaving: current,
      nodes: view.nodes,
      tasks: view.tasksOn(node.id),
      waits,
      terminating: true,
      now: view.now,
    };
    return { decision: decideLeaving(view1, settings), node };
  }
  const optOut = current === undefined ? optOutOf(node) : undefined;
  if (optOut) return { decision: optedOut(refOf(id, node), optOut, true), node };
  // Its event was missed (or not yet handled): start the drain here. How long the instance has
  // waited already is unknown, so the hook gets a heartbeat at once.
  const detail = `${id} waits in ${gi.group}'s terminate hook: ${node.role} ${node.hostname} drains, then leaves the swarm`;
  const leaving = { cause: 'terminate-hook' as const, since: view.now, group: gi.group };
  const steps = [
    ...heartbeatSteps(undefined, actions, view.now),
    markStep(node, leaving, true, { [LEAVING_HEARTBEAT_LABEL]: view.now.toISOString() }),
    notice('info', `Draining ${node.hostname}: Auto Scaling is terminating ${id}`, `${detail}.`),
  ];
  return { decision: plan(refOf(id, node), { kind: 'acted', reason: 'drained' }, detail, steps), node };
}

/** An instance in Pending:Wait: CONTINUE once a Ready node carries its ID, ABANDON when it never joined. */
export function decidePendingInstance(
  gi: GroupInstance,
  view: ReconcileView,
  settings: LifecycleSettings,
): Decision {
  const actions = waitsOf(gi, view, settings, 'launch').map((w) => w.action);
  if (actions.length === 0) return notOurs(gi, view, 'launch');
  const id = gi.id;
  if (gi.lifecycleState === WARMED_PENDING_WAIT) {
    // Going into the warm pool (stopped): it joins when it leaves the pool, through Pending:Wait.
    const detail = `${id} goes into the warm pool of ${gi.group}: its launch hook is completed (it joins when it leaves the pool)`;
    return plan(
      refOf(id),
      { kind: 'acted', reason: 'completed' },
      detail,
      completeSteps(actions, 'CONTINUE'),
    );
  }
  const joined = view.nodes.find((n) => n.engineLabels[INSTANCE_ID_LABEL] === id && n.state === 'ready');
  if (joined) {
    const detail = `${id} joined the swarm as ${joined.role} ${joined.hostname}: its launch hook is completed with CONTINUE`;
    const steps = [
      ...completeSteps(actions, 'CONTINUE'),
      notice('info', `${joined.hostname} joined (${id})`, `${detail}.`),
    ];
    return plan(refOf(id, joined), { kind: 'acted', reason: 'completed' }, detail, steps);
  }
  const info = view.ec2.get(id);
  if (info && !tagged(info, settings.clusterTag)) {
    const detail = `${id} (${gi.group}) does not carry the cluster tag: its hook is not answered`;
    return outcome({ subject: id, instance: id, kind: 'ignored', reason: 'not-cluster-instance', detail });
  }
  // A member already (back from Standby, or restarting): its LaunchTime says nothing of this
  // wait, so it is never abandoned; the hook is completed once the node is Ready again.
  const member = view.nodes.find((n) => n.engineLabels[INSTANCE_ID_LABEL] === id);
  if (member) {
    const detail = `${id} (${gi.group}) runs node ${member.hostname}, ${member.state}: its launch hook is completed once the node is Ready (never abandoned: the instance is a member already)`;
    return outcome({ ...refOf(id, member), kind: 'waiting', reason: 'not-joined', detail });
  }
  const launched = info?.launchTime;
  const waited = launched ? view.now.getTime() - launched.getTime() : undefined;
  if (waited === undefined || waited < settings.launchJoinTimeoutSeconds * 1_000) {
    const since = launched ? `launched ${launched.toISOString()}` : 'EC2 does not say when it was launched';
    const detail = `${id} (${gi.group}) has no Ready node yet (${since})`;
    return outcome({ subject: id, instance: id, kind: 'waiting', reason: 'not-joined', detail });
  }
  const detail = `${id} (${gi.group}) was launched ${launched?.toISOString()} and no Ready node carries its ID after LAUNCH_JOIN_TIMEOUT_SECONDS (${settings.launchJoinTimeoutSeconds} s): its launch hook is completed with ABANDON, and the group replaces it`;
  const text = `${detail}. Look at its user data / bootstrap log (join tokens and manager addresses in SSM, security groups on 2377).`;
  const steps = [
    ...completeSteps(actions, 'ABANDON'),
    notice('warning', `${id} never joined the swarm`, text),
  ];
  return plan(refOf(id), { kind: 'acted', reason: 'abandoned' }, detail, steps);
}

/** Labelled nodes that no waiting instance covers: removed when down, drained before a maintenance window. */
export function decideLeavingNodes(
  view: ReconcileView,
  covered: ReadonlySet<string>,
  settings: LifecycleSettings,
): Decision[] {
  const decisions: Decision[] = [];
  for (const node of view.nodes) {
    const leaving = readLeaving(node.labels);
    if (!leaving || covered.has(node.id)) continue;
    const v = { node, leaving, nodes: view.nodes, tasks: view.tasksOn(node.id), waits: [], now: view.now };
    decisions.push(decideLeaving(v, settings));
  }
  return decisions;
}
