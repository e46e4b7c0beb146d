import type { InstanceInfo } from '../../shared/domain/cloud';
import {
  REPLACING_HOSTNAME_TAG,
  REPLACING_NODE_TAG,
  REPLACING_ROLE_TAG,
  REPLACING_SINCE_TAG,
} from '../../shared/domain/labels';
import type { Notice } from '../../shared/domain/notice';
import type { NodeState } from '../../shared/domain/swarm';
import type { ReplacementClaim } from '../../shared/domain/swarm-ledger';
import { isLive } from './steps';

const ONE_HOUR_MS = 3_600_000;

/** One change a replacement makes, in the order it makes them, with what it tells people after. */
export type ReplaceStep =
  /** Count and claim are one versioned write: of concurrent callers one wins, the others re-read. */
  | { kind: 'claim'; claim: ReplacementClaim }
  | { kind: 'tag'; instance: string; tags: Record<string, string> }
  /** A ghost manager's demotion first records its down-since (`claim`): our demotion moves UpdatedAt. */
  | { kind: 'demote'; claim?: ReplacementClaim; notice?: Notice }
  | { kind: 'remove'; ghost: boolean; notice: Notice }
  | { kind: 'terminate'; instance: string; removedAt: string; notice: Notice };

/**
 * What a replacement will do, decided once: a dry run shows it (`describePlan`) and `applyPlan`
 * carries out exactly these steps.
 */
export interface ReplacementPlan {
  node: NodeState;
  /** What it was before our own demotion, for the outcome and the messages. */
  role: 'manager' | 'worker';
  /** The instance the plan marks and terminates; none for a ghost (nothing of it is touched). */
  instance: InstanceInfo | undefined;
  steps: ReplaceStep[];
}

const info = (title: string, text: string): Notice => ({ severity: 'info', title, text });

/** The replacement of a node the rules let go: claim, mark its instance, demote, remove, terminate. */
export function planReplacement(p: {
  node: NodeState;
  instance: InstanceInfo | undefined;
  own: ReplacementClaim | undefined;
  role: 'manager' | 'worker';
  downSince: Date;
  now: Date;
}): ReplacementPlan {
  const { node, instance, own, role, downSince, now } = p;
  const steps: ReplaceStep[] = [];
  // Our own claim of the last hour still holds the slot; an older one is claimed again, and so
  // is a ghost claim (it took no slot: the instance turned out alive, so this one must).
  if (!own || own.ghost === true || own.claimedAt.getTime() <= now.getTime() - ONE_HOUR_MS) {
    steps.push({ kind: 'claim', claim: { nodeId: node.id, claimedAt: now, downSince, role } });
  }
  if (instance) {
    const ours = instance.tags[REPLACING_NODE_TAG] === node.id;
    const tags = {
      [REPLACING_NODE_TAG]: node.id,
      [REPLACING_SINCE_TAG]: (ours && instance.tags[REPLACING_SINCE_TAG]) || now.toISOString(),
      [REPLACING_HOSTNAME_TAG]: node.hostname,
      [REPLACING_ROLE_TAG]: role,
    };
    steps.push({ kind: 'tag', instance: instance.id, tags });
  }
  const since = downSince.toISOString();
  if (node.role === 'manager') {
    const text = `${node.hostname} (${node.id}) was down since ${since}; quorum kept.`;
    steps.push({ kind: 'demote', notice: info(`Demoted dead manager ${node.hostname}`, text) });
  }
  const removed = `${role} ${node.hostname} (${node.id}) was down since ${since}.`;
  const title = `Removed dead node ${node.hostname} from the swarm`;
  steps.push({ kind: 'remove', ghost: false, notice: info(title, removed) });
  if (instance && isLive(instance)) {
    const text = `It ran ${node.hostname}; its Auto Scaling group launches the replacement, which joins with the tokens in SSM.`;
    const notice = info(`Terminated ${instance.id}`, text);
    steps.push({ kind: 'terminate', instance: instance.id, removedAt: now.toISOString(), notice });
  }
  return { node, role, instance, steps };
}

/** A ghost leaves the swarm and nothing else: a manager is demoted first (quorum-safe). */
export function planGhostRemoval(p: {
  node: NodeState;
  own: ReplacementClaim | undefined;
  downSince: Date;
  now: Date;
  /** What the removal tells: the node, and why its instance is known to be gone. */
  detail: string;
}): ReplacementPlan {
  const { node, own, downSince, now, detail } = p;
  const steps: ReplaceStep[] = [];
  if (node.role === 'manager') {
    const claim: ReplacementClaim = {
      nodeId: node.id,
      claimedAt: now,
      downSince,
      role: 'manager',
      ghost: true,
    };
    steps.push(own ? { kind: 'demote' } : { kind: 'demote', claim });
  }
  steps.push({ kind: 'remove', ghost: true, notice: info(`Removed ghost node ${node.hostname}`, detail) });
  return { node, role: node.role, instance: undefined, steps };
}

/** What a dry run answers: the plan, one line a step, and nothing changed. */
export function dryRunOutcome(name: string, plan: ReplacementPlan, detail: string) {
  return {
    kind: 'skipped' as const,
    target: name,
    node: plan.node.id,
    reason: 'dry-run' as const,
    detail,
    steps: describePlan(plan),
  };
}

/** The plan as a dry run shows it: one line a step. */
export function describePlan(plan: ReplacementPlan): string[] {
  return plan.steps.map((step) => describeStep(step, plan.node));
}

function describeStep(step: ReplaceStep, { hostname, id }: NodeState): string {
  switch (step.kind) {
    case 'claim':
      return 'claim a replacement slot on the swarm';
    case 'tag':
      return `tag ${step.instance} as being replaced`;
    case 'demote':
      return `demote manager ${hostname}`;
    case 'remove':
      return step.ghost
        ? `remove ghost node ${hostname} (${id})`
        : `remove node ${hostname} (${id}) unless it is back`;
    case 'terminate':
      return `terminate ${step.instance}`;
  }
}
