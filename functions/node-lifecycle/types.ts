import type { CloudInstances, InstanceGroups } from '../../shared/domain/cloud';
import type { LifecycleAction, LifecycleActions, LifecycleResult } from '../../shared/domain/lifecycle';
import type { Notice, Notifier } from '../../shared/domain/notice';
import type { NodeState, SwarmNodes, SwarmTasks } from '../../shared/domain/swarm';

export interface LifecycleSettings {
  clusterTag: { key: string; value: string };
  /** LIFECYCLE_GROUPS: the only groups whose hooks are answered. */
  lifecycleGroups: readonly string[];
  /** LIFECYCLE_HOOKS: the only hooks completed or heartbeated (others' hooks on those groups are left to them). */
  lifecycleHooks: readonly string[];
  lifecycleDrainTimeoutSeconds: number;
  launchJoinTimeoutSeconds: number;
  onRebalance: 'notify' | 'drain';
  scheduledDrainLeadSeconds: number;
  updateAttempts: number;
}

export interface NodeLifecycleDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'demoteNode' | 'removeNode'>;
  tasks: Pick<SwarmTasks, 'listTasks'>;
  /** EC2: an instance's tags (the cluster tag), private address and launch time. */
  instances: Pick<CloudInstances, 'describeInstance'>;
  lifecycle: LifecycleActions;
  /** Auto Scaling's state of an event's instance (Standby: a person's opt-out); undefined: not read. */
  groups?: InstanceGroups;
  notifier: Notifier;
  clock: { now(): Date };
  settings: LifecycleSettings;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Who an outcome is about: the instance (always known for events) and its node when there is one. */
export interface Ref {
  subject: string;
  instance?: string;
  node?: string;
  hostname?: string;
}

export type ActReason =
  | 'drained'
  | 'marked'
  | 'left'
  | 'removed'
  | 'demoted'
  | 'completed'
  | 'abandoned'
  | 'handed-back';

export type WaitReason =
  | 'tasks-left'
  | 'quorum-at-risk'
  | 'not-joined'
  | 'launch-pending'
  | 'before-window'
  | 'leaving';

export type IgnoreReason =
  | 'foreign-group'
  | 'foreign-hook'
  | 'no-instance'
  | 'not-cluster-instance'
  | 'no-node'
  | 'instance-in-use'
  | 'not-leaving-state'
  | 'not-scheduled-change';

export type LifecycleOutcome =
  | (Ref & { kind: 'acted'; reason: ActReason; steps: string[]; detail: string })
  | (Ref & { kind: 'waiting'; reason: WaitReason; steps?: string[]; detail: string })
  | (Ref & {
      kind: 'skipped';
      /** `excluded` / `maintenance`: a person opted the node out (shared/domain/opt-out): not drained. `paused`: the cluster-wide pause. */
      reason:
        | 'dry-run'
        | 'in-progress'
        | 'already-leaving'
        | 'already-done'
        | 'came-back'
        | 'excluded'
        | 'maintenance'
        | 'paused';
      steps?: string[];
      detail: string;
    })
  | (Ref & { kind: 'ignored'; reason: IgnoreReason; detail: string })
  /** The reconcile pass could not finish this one now (AWS or Docker failed); the next pass tries again. */
  | (Ref & { kind: 'failed'; detail: string });

/**
 * One change a plan makes, in order. A plan holds at most one versioned node write (`update`),
 * because its version is the one read for the decision: its purpose says what a conflict
 * means — `leave` (someone changed the node: read and decide again), `claim` (another caller
 * is finishing it: stop), `note` (only bookkeeping, written last: nothing is lost).
 */
export type Step =
  | {
      kind: 'update';
      purpose: 'leave' | 'claim' | 'note';
      node: NodeState;
      labels: Record<string, string | undefined>;
      availability?: 'drain' | 'active';
      /** What the step says it does (dry runs and outcomes show it). */
      says: string;
    }
  | { kind: 'demote'; node: NodeState }
  | { kind: 'remove'; node: NodeState; force: boolean }
  | { kind: 'complete'; action: LifecycleAction; result: LifecycleResult }
  | { kind: 'heartbeat'; action: LifecycleAction }
  | { kind: 'notify'; notice: Notice };

/** What a decision will do, as one value: a dry run shows it, `applyPlan` carries out exactly these steps. */
export interface Plan {
  ref: Ref;
  /** The outcome once every step is done. */
  result: { kind: 'acted'; reason: ActReason } | { kind: 'waiting'; reason: WaitReason };
  detail: string;
  steps: Step[];
}

export type Decision = { plan: Plan } | { outcome: LifecycleOutcome };

export const refOf = (instance: string | undefined, node?: NodeState): Ref => ({
  subject: node?.hostname || instance || node?.id || 'unknown',
  ...(instance ? { instance } : {}),
  ...(node ? { node: node.id, hostname: node.hostname } : {}),
});
