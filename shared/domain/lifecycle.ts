/**
 * Auto Scaling lifecycle hooks, as node-lifecycle uses them: an instance the group launches
 * waits in `Pending:Wait` until a node carrying its ID is Ready; one it takes waits in
 * `Terminating:Wait` until its node has been drained and has left the swarm. The waiting
 * instances and the hooks are read from Auto Scaling every time: nothing is remembered.
 */

/** Auto Scaling's LifecycleState values we act on (the others, such as `InService`, are left alone). */
export const PENDING_WAIT = 'Pending:Wait';
export const TERMINATING_WAIT = 'Terminating:Wait';
/** A warm-pool instance being launched into (or taken out of) the pool: it never joins the swarm. */
export const WARMED_PENDING_WAIT = 'Warmed:Pending:Wait';
export const WARMED_TERMINATING_WAIT = 'Warmed:Terminating:Wait';

/**
 * Whether an instance in this LifecycleState is on its way out through a terminate transition
 * (or, with a warm pool's ReuseOnScaleIn, back into the pool: `Warmed:Pending:Wait`). A
 * terminate-hook event for an instance in any other state (InService again, Standby) is stale.
 */
export const isTerminating = (lifecycleState: string | undefined): boolean =>
  lifecycleState !== undefined &&
  (/^(Warmed:)?Terminat/.test(lifecycleState) || lifecycleState === WARMED_PENDING_WAIT);

export interface GroupInstance {
  readonly id: string;
  readonly group: string;
  /** Auto Scaling's LifecycleState: Pending:Wait, InService, Terminating:Wait, … */
  readonly lifecycleState: string;
}

export interface LifecycleHook {
  readonly group: string;
  readonly name: string;
  readonly transition: 'launch' | 'terminate' | 'other';
  /** Seconds an instance waits before the default result applies, unless a heartbeat resets it. */
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: string;
}

/** One instance's wait in one hook: completed (or kept waiting) by instance ID, no token stored. */
export interface LifecycleAction {
  readonly group: string;
  readonly hook: string;
  readonly instance: string;
}

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/**
 * The Auto Scaling calls node-lifecycle makes. `no-active-action` is Auto Scaling's
 * ValidationError "No active Lifecycle Action found with instance ID …": the action was
 * completed already (a second delivery, a concurrent caller) or timed out — nothing is left
 * to do, which is success for the caller. Every other failure is thrown as unavailable (retryable).
 */
export interface LifecycleActions {
  /** Every instance of these groups, with its lifecycle state (missing groups have none). */
  describeGroups(names: readonly string[]): Promise<GroupInstance[]>;
  describeHooks(group: string): Promise<LifecycleHook[]>;
  complete(action: LifecycleAction, result: LifecycleResult): Promise<'completed' | 'no-active-action'>;
  heartbeat(action: LifecycleAction): Promise<'recorded' | 'no-active-action'>;
}
