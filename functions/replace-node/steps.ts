import type { CloudInstances, InstanceInfo } from '../../shared/domain/cloud';
import { INSTANCE_ID_LABEL, REPLACING_TAGS } from '../../shared/domain/labels';
import type { Logger } from '../../shared/domain/log';
import type { Notice } from '../../shared/domain/notice';
import { isStandby } from '../../shared/domain/opt-out';
import type { NodeState } from '../../shared/domain/swarm';
import { releaseReplacement } from '../../shared/domain/swarm-ledger';
import type { RefuseReason } from './rules';
import { instanceIdPattern } from './target';
import type { Memo, Refused, ReplaceNodeDeps, ReplaceOutcome } from './types';

/** The small steps every path of a replacement shares: refusing, telling, giving back, finding the instance. */
export async function refused(
  deps: ReplaceNodeDeps,
  name: string,
  node: NodeState | undefined,
  reason: RefuseReason,
  detail: string,
  severity: Notice['severity'] | undefined,
): Promise<Refused> {
  if (severity) await notifyRefusal(deps, name, detail, severity);
  return { kind: 'refused', target: name, ...(node ? { node: node.id } : {}), reason, detail };
}

/** Swarm refused the removal: the node is Ready again. Nothing is terminated; our marks go. */
export async function cameBack(
  deps: ReplaceNodeDeps,
  name: string,
  node: NodeState,
  role: 'manager' | 'worker',
  instance: InstanceInfo | undefined,
  steps: readonly string[],
  log: Logger,
): Promise<Refused> {
  await abandon(deps, node, instance, log);
  const demoted = role === 'manager';
  const detail =
    `node ${node.hostname} (${node.id}) is Ready again: Swarm refused to remove it, and nothing was terminated.` +
    (demoted
      ? ` It had already been demoted; promote it again if it should stay a manager: docker node promote ${node.id}`
      : '');
  log.info('aborted: node came back', { node: node.id, steps });
  return refused(deps, name, node, 'node-came-back', detail, demoted ? 'warning' : 'info');
}

/** Gives back the claim and removes our tags: the node is not being replaced any more. */
export async function abandon(
  deps: ReplaceNodeDeps,
  node: NodeState,
  instance: InstanceInfo | undefined,
  log: Logger,
): Promise<void> {
  try {
    await releaseReplacement(deps.swarm, node.id);
    if (instance && deps.cloud) await deps.cloud.untagInstance(instance.id, REPLACING_TAGS);
  } catch (error) {
    // The claim then expires within the hour; the tags only make a later resume look, and it re-checks.
    log.warn('could not clear the marks of an abandoned replacement', {
      node: node.id,
      error: String(error),
    });
  }
}

export function isLive(i: InstanceInfo): boolean {
  return i.state !== 'terminated' && i.state !== 'shutting-down';
}

/** The instance's Auto Scaling state when it is Standby (a person's opt-out); undefined otherwise or not read. */
export async function standbyState(deps: ReplaceNodeDeps, instanceId: string): Promise<string | undefined> {
  const state = (await deps.groups?.lifecycleStates([instanceId]))?.get(instanceId);
  return isStandby(state) ? state : undefined;
}

export async function findInstance(
  cloud: CloudInstances,
  node: NodeState,
): Promise<InstanceInfo | undefined> {
  const id = node.engineLabels[INSTANCE_ID_LABEL];
  if (id !== undefined && instanceIdPattern.test(id)) return cloud.describeInstance(id);
  // Nodes bootstrapped without the label: the node's address is the instance's private address.
  return node.address ? cloud.findByAddress(node.address) : undefined;
}

export async function notifyRefusal(
  deps: ReplaceNodeDeps,
  name: string,
  detail: string,
  severity: Notice['severity'],
) {
  await deps.notifier.notify({
    severity,
    title: `Not replacing ${name}`,
    text: detail,
    fields: { target: name },
  });
}

export async function announce(
  deps: ReplaceNodeDeps,
  severity: Notice['severity'],
  title: string,
  text: string,
) {
  await deps.notifier.notify({ severity, title, text });
}

/**
 * `docker node rm` without force, remembered in `memo` before the call: a removal whose answer
 * is lost (Docker applied it, the connection dropped) leaves the node gone, and this
 * invocation's retry must then finish, not wait. 'not-found': another delivery removed it
 * (it finishes the job); 'not-down': swarmkit refused, the node is Ready again.
 */
export async function removeOnce(
  deps: ReplaceNodeDeps,
  memo: Memo,
  node: NodeState,
): Promise<'removed' | 'not-found' | 'not-down'> {
  memo.removed.add(node.id);
  const removal = await deps.swarm.removeNode(node.id);
  if (removal !== 'removed') memo.removed.delete(node.id);
  return removal;
}

/** The outcome for a node another delivery removed first. */
export function removedByAnother(name: string, node: NodeState): ReplaceOutcome {
  return {
    kind: 'skipped',
    target: name,
    node: node.id,
    reason: 'in-progress',
    detail: 'another delivery removed this node; it finishes the job',
  };
}
