import { awsErrorName } from './errors';
export interface InstanceInfo {
  readonly id: string;
  /** pending | running | shutting-down | terminated | stopping | stopped */
  readonly state: string;
  readonly privateIp: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  /** When EC2 launched it: an instance launched after a node joined cannot be that node's. */
  readonly launchTime: Date | undefined;
}

/** A replacement whose first caller has not finished after this long is resumed by the next caller (or the sweep). */
export const REPLACEMENT_RESUME_AFTER_MS = 60_000;
/** The EC2 calls node replacement makes, all scoped to this cluster's tagged instances. */
export interface CloudInstances {
  describeInstance(id: string): Promise<InstanceInfo | undefined>;
  /** The live instance with this private address: this cluster's if exactly one is, else the only one. */
  findByAddress(address: string): Promise<InstanceInfo | undefined>;
  /**
   * Whether EC2 shows this cluster at all (a running instance with the cluster tag): what makes
   * "no such instance" mean gone, rather than "we cannot see" (wrong region, a filtered role).
   */
  clusterVisible(): Promise<boolean>;
  /** The cluster's instances carrying a replacing-node tag (terminated ones stay listed for about an hour). */
  listReplacements(): Promise<InstanceInfo[]>;
  tagInstance(id: string, tags: Record<string, string>): Promise<void>;
  /** Removes tags (an aborted replacement's): the instance is no longer being replaced. */
  untagInstance(id: string, keys: readonly string[]): Promise<void>;
  terminateInstance(id: string): Promise<void>;
}

/** Auto Scaling's view of single instances, wherever their group: what the Standby opt-out reads. */
export interface InstanceGroups {
  /**
   * The LifecycleState (InService, Standby, Terminating:Wait, …) of each of these instances that
   * belongs to an Auto Scaling group; an instance in no group is absent.
   */
  lifecycleStates(ids: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

export interface GroupState {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly desired: number;
  /** In-service (or pending) instance IDs of the group. */
  readonly instances: readonly string[];
  /** Those of `instances` a person put in Standby (or that are entering it): opted out (shared/domain/opt-out). */
  readonly standby?: readonly string[];
  /** When the group's most recent scaling activity started; undefined if it never scaled. */
  readonly lastActivityAt: Date | undefined;
}

/**
 * What Auto Scaling answered to a termination. `refused` is an answer that says the request can
 * never succeed as it stands (a `ValidationError`, e.g. the group is at its minimum): asking
 * again changes nothing, so the caller must do something else. Anything that a later try can
 * get past (throttling, access denied, a 5xx, the network) is thrown as unavailable instead.
 */
export type TerminateResult =
  | { kind: 'terminated' }
  /** Already gone from the group (a retry after a call whose answer was lost): nothing left to do. */
  | { kind: 'not-in-group' }
  | { kind: 'refused'; reason: 'at-min' | 'invalid'; message: string };

/** The Auto Scaling calls worker capacity needs; the group's own state is the only state. */
export interface WorkerGroup {
  describe(): Promise<GroupState>;
  setDesired(capacity: number): Promise<void>;
  /** Terminates one instance and lowers the desired capacity with it. */
  terminateAndShrink(instanceId: string): Promise<TerminateResult>;
}

/** Reads a TerminateInstanceInAutoScalingGroup error; undefined when a later try may succeed. */
export function terminateRefusal(
  error: unknown,
): Exclude<TerminateResult, { kind: 'terminated' }> | undefined {
  if (awsErrorName(error) !== 'ValidationError') return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (/not part of|not found/i.test(message)) return { kind: 'not-in-group' };
  // "Currently, desiredSize equals minSize (N). Terminating instance without replacement will
  // violate group's min size constraint. …" — AWS's own words.
  const reason = /minSize|min size/i.test(message) ? 'at-min' : 'invalid';
  return { kind: 'refused', reason, message };
}

/**
 * Hands a remedy to the function that owns it, without waiting for it: the health sweep
 * finds, the remedies act (each applies its own safety rules, is idempotent, and has its
 * own failure destination).
 */
export type DispatchResult =
  | { readonly dispatched: true; readonly to: string }
  /** Nothing was sent (no function to send to, e.g. locally): `detail` says so, for the finding. */
  | { readonly dispatched: false; readonly detail: string };

export interface Dispatcher {
  /** Queues replace-node for one node. Throws DependencyUnavailableError when it could not be queued. */
  replaceNode(nodeId: string): Promise<DispatchResult>;
  /** Queues replace-node for an instance whose replacement stopped after its node left. */
  replaceInstance(instanceId: string): Promise<DispatchResult>;
  /** Queues sync-join-tokens. Throws DependencyUnavailableError when it could not be queued. */
  syncJoinTokens(): Promise<DispatchResult>;
}

export interface StoredParameter {
  readonly value: string;
  readonly lastModified: Date | undefined;
}

/** SSM Parameter Store, for what the functions keep there (join tokens, manager addresses). */
export interface ParameterStore {
  /** Reads (decrypted) the named parameters; missing ones are absent from the map. */
  get(names: readonly string[]): Promise<Map<string, StoredParameter>>;
  put(name: string, value: string, kind: 'SecureString' | 'String'): Promise<void>;
}
