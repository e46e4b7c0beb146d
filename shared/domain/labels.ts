/**
 * Every Docker label and EC2 tag swarm-reflex reads or writes, named once. Labels on the swarm
 * object, nodes and services are its only state besides the EC2 tags of an instance being replaced.
 */

/** Tags we write on an instance that is being replaced: the state of a replacement in progress. */
export const REPLACING_NODE_TAG = 'swarm-reflex:replacing-node';
/** When the replacement started (the first tag): another caller's replacement gets a minute to finish. */
export const REPLACING_SINCE_TAG = 'swarm-reflex:replacing-since';
export const REPLACING_HOSTNAME_TAG = 'swarm-reflex:replacing-hostname';
export const REPLACING_ROLE_TAG = 'swarm-reflex:replacing-role';
/** Written once our removal of the node succeeded: what lets a later caller finish (terminate) the replacement. */
export const REPLACING_REMOVED_TAG = 'swarm-reflex:replacing-removed';
export const REPLACING_TAGS = [
  REPLACING_NODE_TAG,
  REPLACING_SINCE_TAG,
  REPLACING_HOSTNAME_TAG,
  REPLACING_ROLE_TAG,
];

/** On a worker being scaled in (drained, its instance to be terminated once empty). */
export const SCALE_IN_LABEL = 'com.swarm-reflex.scale-in';
/** Claimed by the caller that terminates: concurrent completions terminate once. */
export const SCALE_IN_CLAIM_LABEL = 'com.swarm-reflex.scale-in-claimed';
/**
 * On a node whose instance AWS is taking (node-lifecycle): `<cause> <since> [<ref>]`, written in
 * the same versioned node update as its drain. `cause` is terminate-hook | spot | rebalance |
 * scheduled | state-change; `since` an ISO time; `ref` the Auto Scaling group (terminate-hook)
 * or the maintenance window `<start>/<end>` (scheduled). See shared/domain/leaving.ts.
 */
export const LEAVING_LABEL = 'com.swarm-reflex.leaving';
/** Claimed (ISO time) by the caller that removes the node and completes its lifecycle action: once. */
export const LEAVING_CLAIM_LABEL = 'com.swarm-reflex.leaving-claimed';
/** When the lifecycle action of a leaving node was last kept waiting (RecordLifecycleActionHeartbeat). */
export const LEAVING_HEARTBEAT_LABEL = 'com.swarm-reflex.leaving-heartbeat';
/** When people were told that a leaving manager cannot be demoted safely (told once, not every minute). */
export const LEAVING_HELD_LABEL = 'com.swarm-reflex.leaving-held';
/**
 * A person's opt-out of one node: we never replace, drain or scale it in. Any value but `false`
 * opts out (`true`, `TRUE`, `yes`, empty: whoever wrote it meant to keep us away). See opt-out.ts.
 */
export const EXCLUDE_LABEL = 'com.swarm-reflex.exclude';
/**
 * The cluster-wide pause, on the swarm object (on-prem; deployed, the SSM parameter
 * `<SETTINGS_PREFIX>/pause`): the JSON of shared/domain/pause.ts.
 */
export const PAUSE_LABEL = 'com.swarm-reflex.paused';
/** The engine label the bootstrap sets: which EC2 instance a node runs on. */
export const INSTANCE_ID_LABEL = 'aws.instance-id';

/** One label per node being (or recently) replaced: `<claimed at> <down since> <role>` (ISO times). */
export const REPLACEMENT_CLAIM_PREFIX = 'com.swarm-reflex.replacing.';
/** Written by earlier versions after a removal (on-prem only); read as claims, pruned like them. */
export const LEGACY_REMOVAL_PREFIX = 'com.swarm-reflex.removed.';
/**
 * The last node-scale decision (out or in), the cooldown every caller shares:
 * `<claimed at> <token>` (an ISO time, and a random token of the call that claimed it, so that a
 * call knows its own claim when the answer to its write was lost). Earlier versions wrote a bare
 * time: read as the claim of some other call.
 */
export const NODE_SCALE_CLAIM_LABEL = 'com.swarm-reflex.node-scale-at';

/** Labels we write on the service, in the same versioned update as the replicas. */
export const SCALED_AT_LABEL = 'com.swarm-reflex.scaled-at';
export const LAST_SCALE_LABEL = 'com.swarm-reflex.last-scale';

/** Opt-in label (docker-flow compatible): spread this service's tasks again after nodes join. */
export const RESCHEDULE_LABEL = 'com.df.reschedule';
