import type { Dispatcher, InstanceInfo, ParameterStore, WorkerGroup } from '../../shared/domain/cloud';
import type { Logger } from '../../shared/domain/log';
import type { Notifier } from '../../shared/domain/notice';
import type { PauseReader } from '../../shared/domain/pause';
import type { SwarmNodes, SwarmServices, SwarmTasks } from '../../shared/domain/swarm';
import type { Finding } from './findings';

export interface HealthSweepDeps {
  nodes: Pick<SwarmNodes, 'listNodes' | 'updateNode' | 'removeNode'>;
  services: Pick<SwarmServices, 'listServices' | 'forceUpdate'>;
  tasks: Pick<SwarmTasks, 'listTasks'>;
  /** The worker group a completed scale-in shrinks; undefined without AWS. */
  group: WorkerGroup | undefined;
  /** The cluster's instances tagged as being replaced (EC2); undefined without AWS. */
  replacements?: { list(): Promise<InstanceInfo[]> };
  dispatcher: Dispatcher;
  /** The cluster-wide pause: while in force the sweep reports, and dispatches and changes nothing. Unset: never paused. */
  pause?: PauseReader;
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

/** What a classifier knows besides the read and the settings: which sweep of the series this is. */
export interface SweepMoment {
  readonly at: Date;
  readonly intervalMs: number;
  readonly dryRun: boolean;
  /** The cluster-wide pause is in force (or could not be read): report, never act. */
  readonly paused?: boolean;
}

/**
 * Why this sweep changes nothing, as the action of a finding that would have changed
 * something and the words its detail ends with; undefined when it acts. The pause wins.
 */
export function holding(moment: {
  dryRun: boolean;
  paused?: boolean;
}): { action: 'dry-run' | 'paused'; why: string } | undefined {
  if (moment.paused) return { action: 'paused', why: 'paused: nothing is dispatched or changed' };
  if (moment.dryRun) return { action: 'dry-run', why: 'dry run' };
  return undefined;
}

export interface Context {
  deps: HealthSweepDeps;
  input: SweepInput;
  moment: SweepMoment;
  /** Messages under way: sent at once, all together, and awaited at the end within the deadline. */
  outbox: Array<Promise<void>>;
}

export function sweepContext(deps: HealthSweepDeps, input: SweepInput, paused = false): Context {
  const intervalMs = deps.settings.sweepIntervalSeconds * 1_000;
  return { deps, input, moment: { at: input.at, intervalMs, dryRun: input.dryRun, paused }, outbox: [] };
}
