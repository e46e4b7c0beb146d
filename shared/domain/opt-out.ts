import { EXCLUDE_LABEL, LEAVING_LABEL, SCALE_IN_LABEL } from './labels';
import type { NodeState } from './swarm';

/**
 * A node a person keeps us away from: never replaced, drained or scaled in by swarm-reflex.
 * `excluded`: the node label com.swarm-reflex.exclude (any value but `false`). `maintenance`:
 * availability `drain` or `pause` that a person set (ours carry the scale-in or leaving label),
 * or its instance in Auto Scaling Standby.
 */
export interface OptOut {
  readonly reason: 'excluded' | 'maintenance';
  /** For a person: what opted it out, and how to opt it back in. */
  readonly detail: string;
}

/** Auto Scaling lifecycle states of an instance a person took out of service (and is bringing back). */
const STANDBY_STATES: ReadonlySet<string> = new Set(['Standby', 'EnteringStandby']);

export const isStandby = (lifecycleState: string | undefined): boolean =>
  lifecycleState !== undefined && STANDBY_STATES.has(lifecycleState);

/**
 * Whether a person opted this node out, and why. `lifecycleState` is its instance's Auto Scaling
 * LifecycleState, where the caller reads the group (undefined: not known, only the swarm decides).
 */
export function optOutOf(
  node: Pick<NodeState, 'hostname' | 'availability' | 'labels'>,
  lifecycleState?: string,
): OptOut | undefined {
  const excluded = node.labels[EXCLUDE_LABEL];
  if (excluded !== undefined && excluded.trim().toLowerCase() !== 'false') {
    return {
      reason: 'excluded',
      detail: `node ${node.hostname} is labelled ${EXCLUDE_LABEL}=${JSON.stringify(excluded)}: a person keeps swarm-reflex away from it (docker node update --label-rm ${EXCLUDE_LABEL} to hand it back)`,
    };
  }
  const ours = node.labels[SCALE_IN_LABEL] !== undefined || node.labels[LEAVING_LABEL] !== undefined;
  if (node.availability !== 'active' && !ours) {
    return {
      reason: 'maintenance',
      detail: `node ${node.hostname} was set to availability ${node.availability} by a person (not by swarm-reflex): it is in maintenance (docker node update --availability active to hand it back)`,
    };
  }
  if (isStandby(lifecycleState)) {
    return {
      reason: 'maintenance',
      detail: `the instance of node ${node.hostname} is in Auto Scaling ${lifecycleState}: a person took it out of service (aws autoscaling exit-standby to hand it back)`,
    };
  }
  return undefined;
}
