import type { IgnoredAlert } from '../../shared/domain/alerts';
import type { CloudInstances, InstanceGroups } from '../../shared/domain/cloud';
import type { Logger } from '../../shared/domain/log';
import type { Notifier } from '../../shared/domain/notice';
import type { SwarmNodes } from '../../shared/domain/swarm';
import type { RefuseReason, SafetySettings } from './rules';
import type { Target } from './target';

export type ReplaceOutcome =
  | {
      kind: 'replaced';
      target: string;
      node: string;
      hostname: string;
      role: 'manager' | 'worker';
      /** The terminated instance; undefined without a cloud (the Swarm half only). */
      instance: string | undefined;
      steps: string[];
      detail: string;
    }
  | {
      kind: 'skipped';
      target: string;
      node?: string;
      reason: 'in-progress' | 'already-replaced' | 'dry-run';
      detail: string;
      steps?: string[];
    }
  | {
      /** A down node whose instance EC2 confirms terminated or gone: removed, nothing terminated. */
      kind: 'removed-ghost';
      target: string;
      node: string;
      hostname: string;
      role: 'manager' | 'worker';
      instance: string | undefined;
      detail: string;
    }
  | { kind: 'refused'; target: string; node?: string; reason: RefuseReason; detail: string }
  | IgnoredAlert<'resolved' | 'no-target-label' | 'invalid-target-label'>;

export interface ReplaceNodeDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'demoteNode' | 'removeNode' | 'inspectSwarm' | 'updateSwarm'>;
  /** Undefined without AWS (on-prem, local): only the Swarm half is done. */
  cloud: CloudInstances | undefined;
  /** Auto Scaling's state of the node's instance (Standby: a person's opt-out); undefined: not read. */
  groups?: InstanceGroups;
  notifier: Notifier;
  clock: { now(): Date };
  settings: SafetySettings & {
    updateAttempts: number;
    clusterTag: { key: string; value: string } | undefined;
  };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface ReplaceNodeInput {
  targets: ReadonlyArray<{ ref: string; target: Target }>;
  ignored: ReadonlyArray<Extract<ReplaceOutcome, { kind: 'ignored' }>>;
  dryRun: boolean;
  log: Logger;
}

export interface Memo {
  /** Nodes this invocation removed, or asked Docker to remove without hearing the answer. */
  removed: Set<string>;
}

export type Refused = Extract<ReplaceOutcome, { kind: 'refused' }>;
