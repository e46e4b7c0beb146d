import { type InstanceInfo, REPLACEMENT_RESUME_AFTER_MS } from '../../shared/domain/cloud';
import { REPLACING_HOSTNAME_TAG, REPLACING_NODE_TAG, REPLACING_SINCE_TAG } from '../../shared/domain/labels';
import type { NodeState } from '../../shared/domain/swarm';
import { crossedWithin, crossingNumber } from './window';

/** An instance tagged as being replaced whose node has left the swarm, but which still runs. */
export interface UnfinishedReplacement {
  readonly instance: InstanceInfo;
  readonly nodeId: string;
  readonly hostname: string;
  /** When the replacement started (its tag). */
  readonly since: Date;
  /** This sweep dispatches its completion: once the first caller had its minute, then once per grace window. */
  readonly due: boolean;
  /** The first dispatch of the series: the one a person is told about. */
  readonly first: boolean;
}

/**
 * Replacements that removed their node and then stopped (EC2 throttled the termination, the
 * function timed out, its retries ran out): without this the instance runs outside the swarm
 * for ever, since no alert names a node that is gone. Pure: from the tagged instances EC2
 * lists and one read of the nodes. replace-node re-checks everything before it terminates.
 */
export function unfinishedReplacements(
  instances: readonly InstanceInfo[],
  nodes: readonly NodeState[],
  at: Date,
  timing: { intervalMs: number; graceMs: number },
): UnfinishedReplacement[] {
  const listed = new Set(nodes.map((n) => n.id));
  const out: UnfinishedReplacement[] = [];
  for (const instance of instances) {
    const nodeId = instance.tags[REPLACING_NODE_TAG];
    const since = new Date(instance.tags[REPLACING_SINCE_TAG] ?? '');
    if (!nodeId || listed.has(nodeId) || Number.isNaN(since.getTime())) continue;
    if (instance.state === 'terminated' || instance.state === 'shutting-down') continue;
    const elapsed = at.getTime() - since.getTime();
    const every = Math.max(timing.graceMs, timing.intervalMs);
    out.push({
      instance,
      nodeId,
      hostname: instance.tags[REPLACING_HOSTNAME_TAG] ?? '',
      since,
      due: crossedWithin(elapsed, REPLACEMENT_RESUME_AFTER_MS, timing.intervalMs, every),
      first:
        elapsed >= REPLACEMENT_RESUME_AFTER_MS &&
        crossingNumber(elapsed, REPLACEMENT_RESUME_AFTER_MS, timing.intervalMs, every) === 1,
    });
  }
  return out;
}
