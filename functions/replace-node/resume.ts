import {
  type CloudInstances,
  type InstanceInfo,
  REPLACEMENT_RESUME_AFTER_MS,
} from '../../shared/domain/cloud';
import { nodesBackedBy } from '../../shared/domain/instance-nodes';
import {
  REPLACING_HOSTNAME_TAG,
  REPLACING_NODE_TAG,
  REPLACING_REMOVED_TAG,
  REPLACING_ROLE_TAG,
  REPLACING_SINCE_TAG,
  REPLACING_TAGS,
} from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import type { NodeState } from '../../shared/domain/swarm';
import { readReplacementClaims } from '../../shared/domain/swarm-ledger';
import { quorumRefusal } from './rules';
import { announce, isLive, refused, standbyState } from './steps';
import type { Target } from './target';
import type { Memo, ReplaceNodeDeps, ReplaceOutcome } from './types';

/** The node is gone: finish a replacement that removed it but did not terminate its instance. */
export async function resume(
  deps: ReplaceNodeDeps,
  target: Target,
  name: string,
  nodes: readonly NodeState[],
  now: Date,
  log: Logger,
  memo: Memo,
): Promise<ReplaceOutcome> {
  const unknown: ReplaceOutcome = {
    kind: 'refused',
    target: name,
    reason: 'unknown-node',
    detail: `no node matches ${name}`,
  };
  if (!deps.cloud) return unknown;
  const ours = await taggedInstances(deps, deps.cloud, target);
  if (ours.length === 0) return unknown;
  const instance = ours.find(isLive);
  if (instance === undefined) {
    return {
      kind: 'skipped',
      target: name,
      reason: 'already-replaced',
      detail: 'the node was removed and its instance terminated',
    };
  }
  const blocked = await notResumable(deps, deps.cloud, { name, instance, nodes, now, memo });
  if (blocked) return blocked;
  await deps.cloud.terminateInstance(instance.id);
  log.info('resumed', { instance: instance.id });
  await announce(
    deps,
    'info',
    `Terminated ${instance.id} (resumed)`,
    `Its node ${name} had already left the swarm; the Auto Scaling group launches the replacement.`,
  );
  return {
    kind: 'replaced',
    target: name,
    node: instance.tags[REPLACING_NODE_TAG] ?? '',
    hostname: instance.tags[REPLACING_HOSTNAME_TAG] ?? '',
    role: instance.tags[REPLACING_ROLE_TAG] === 'manager' ? 'manager' : 'worker',
    instance: instance.id,
    steps: [`terminated ${instance.id}`],
    detail: 'resumed an interrupted replacement: the node had left the swarm, its instance is now terminated',
  };
}

/** The cluster's instances tagged as being replaced that the target names. */
async function taggedInstances(
  deps: ReplaceNodeDeps,
  cloud: CloudInstances,
  target: Target,
): Promise<InstanceInfo[]> {
  const candidates =
    target.by === 'instance-id'
      ? [await cloud.describeInstance(target.value)].filter((i): i is InstanceInfo => i !== undefined)
      : (await cloud.listReplacements()).filter((i) =>
          target.by === 'node'
            ? i.tags[REPLACING_NODE_TAG] === target.value || i.tags[REPLACING_HOSTNAME_TAG] === target.value
            : i.privateIp === target.value,
        );
  return candidates.filter(
    (i) =>
      i.tags[REPLACING_NODE_TAG] !== undefined &&
      i.tags[deps.settings.clusterTag?.key ?? ''] === deps.settings.clusterTag?.value,
  );
}

/** Why the live tagged instance must not be terminated now, or undefined when it may. */
async function notResumable(
  deps: ReplaceNodeDeps,
  cloud: CloudInstances,
  at: { name: string; instance: InstanceInfo; nodes: readonly NodeState[]; now: Date; memo: Memo },
): Promise<ReplaceOutcome | undefined> {
  const { name, instance, nodes, now, memo } = at;
  const nodeId = instance.tags[REPLACING_NODE_TAG] ?? '';
  // The tag is a claim, not the truth: the node it names must be gone, and the instance must
  // not run any other node (it rebooted and joined again under a new node ID).
  if (nodes.some((n) => n.id === nodeId)) {
    return {
      kind: 'skipped',
      target: name,
      node: nodeId,
      reason: 'in-progress',
      detail: `node ${nodeId} that ${instance.id} is tagged for is still in the swarm; it is replaced through it`,
    };
  }
  const stale = async (reason: 'instance-in-use' | 'stale-tags', detail: string) => {
    await cloud.untagInstance(instance.id, REPLACING_TAGS);
    return refused(deps, name, undefined, reason, detail, 'warning');
  };
  const backing = nodesBackedBy(instance, nodes, undefined);
  if (backing.length > 0) {
    const running = backing.map((n) => `${n.hostname} (${n.id})`).join(', ');
    return stale(
      'instance-in-use',
      `${instance.id} was tagged for node ${nodeId}, which left, but it now runs node ${running}: not terminating it; its stale tags were removed`,
    );
  }
  // Tags alone are no proof: only our own removal (its tag, or a claim still on the swarm) is.
  const claimed = readReplacementClaims((await deps.swarm.inspectSwarm()).labels).some(
    (c) => c.nodeId === nodeId && c.ghost !== true,
  );
  if (!claimed && instance.tags[REPLACING_REMOVED_TAG] === undefined && !memo.removed.has(nodeId)) {
    return stale(
      'stale-tags',
      `${instance.id} was tagged for node ${nodeId}, which left the swarm, but no removal of ours is recorded (no claim, no ${REPLACING_REMOVED_TAG} tag): the tags were stale and are removed; nothing was terminated`,
    );
  }
  const lost = quorumRefusal(nodes);
  if (lost?.kind === 'refuse') return refused(deps, name, undefined, lost.reason, lost.detail, lost.severity);
  // A person took the instance out of service since: it is theirs until it leaves Standby.
  const state = await standbyState(deps, instance.id);
  if (state) {
    const detail = `${instance.id} (tagged for node ${nodeId}, which left the swarm) is in Auto Scaling ${state}: a person took it out of service; not terminated (aws autoscaling exit-standby hands it back)`;
    return refused(deps, name, undefined, 'maintenance', detail, undefined);
  }
  const since = Date.parse(instance.tags[REPLACING_SINCE_TAG] ?? '');
  // Another caller's replacement is given a minute to finish; our own is resumed at once.
  if (
    !memo.removed.has(nodeId) &&
    !Number.isNaN(since) &&
    now.getTime() - since < REPLACEMENT_RESUME_AFTER_MS
  ) {
    return {
      kind: 'skipped',
      target: name,
      reason: 'in-progress',
      detail: `${instance.id} is being replaced`,
    };
  }
  return undefined;
}
