import {
  type CloudInstances,
  type InstanceInfo,
  REPLACING_NODE_TAG,
  REPLACING_SINCE_TAG,
} from '../../shared/ec2';
import { DependencyUnavailableError, QuorumLostError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { quote } from '../../shared/names';
import type { Notice, Notifier } from '../../shared/notifier';
import { retryAttempt } from '../../shared/retry';
import type { NodeState, SwarmNodes } from '../../shared/swarm';

/** What an alert (or a direct invocation) names: a Swarm node, an EC2 instance, or an address. */
export type Target =
  | { by: 'node'; value: string }
  | { by: 'instance-id'; value: string }
  | { by: 'address'; value: string };

export type RefuseReason =
  | 'unknown-node'
  | 'ambiguous-target'
  | 'node-not-down'
  | 'within-grace'
  | 'quorum-lost'
  | 'would-lose-quorum'
  | 'storm'
  | 'rate-limited'
  | 'no-instance'
  | 'not-cluster-instance';

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
  | { kind: 'refused'; target: string; node?: string; reason: RefuseReason; detail: string }
  | {
      kind: 'ignored';
      alert: string;
      reason: 'resolved' | 'no-target-label' | 'invalid-target-label';
      detail: string;
    };

/** Engine label the node bootstrap writes: which EC2 instance runs this dockerd. */
export const INSTANCE_ID_LABEL = 'aws.instance-id';
/** A replacement whose first caller has not finished after this long is resumed by the next one. */
export const RESUME_AFTER_MS = 60_000;
const ONE_HOUR_MS = 3_600_000;
/** On-prem (no cloud): removals are recorded as swarm labels, for the rate limit. */
export const REMOVAL_LABEL_PREFIX = 'com.swarm-reflex.removed.';

const hostname =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const instanceId = /^i-[0-9a-f]{8,17}$/;

/** Reads a target from `node` (ID or hostname) or `instance` (EC2 ID, or host:port as node-exporter reports it). */
export function parseTarget(labels: {
  node?: string;
  instance?: string;
}): Target | { invalid: string } | undefined {
  if (labels.node !== undefined && labels.node !== '') {
    return hostname.test(labels.node)
      ? { by: 'node', value: labels.node }
      : { invalid: `node label ${quote(labels.node)}` };
  }
  const instance = labels.instance;
  if (instance === undefined || instance === '') return undefined;
  if (instanceId.test(instance)) return { by: 'instance-id', value: instance };
  const host = instance.replace(/:\d{1,5}$/, '');
  if (ipv4.test(host) || hostname.test(host)) return { by: 'address', value: host };
  return { invalid: `instance label ${quote(instance)}` };
}

export function describeTarget(t: Target): string {
  return t.by === 'node' ? t.value : `${t.by === 'instance-id' ? 'instance' : 'address'} ${t.value}`;
}

/** The nodes a target names; when several match, the down one if it is the only one down. */
export function resolveTarget(
  nodes: readonly NodeState[],
  target: Target,
): NodeState | 'ambiguous' | undefined {
  const matches = nodes.filter((n) => {
    if (target.by === 'instance-id') return n.engineLabels[INSTANCE_ID_LABEL] === target.value;
    if (target.by === 'node') return n.id === target.value || n.hostname === target.value;
    return n.address === target.value || n.hostname === target.value;
  });
  if (matches.length <= 1) return matches[0];
  const down = matches.filter((n) => n.state === 'down');
  return down.length === 1 ? down[0] : 'ambiguous';
}

export interface SafetySettings {
  nodeDownGraceSeconds: number;
  maxDownShare: number;
  maxReplacementsPerHour: number;
}

export type Verdict =
  | { kind: 'proceed' }
  | { kind: 'refuse'; reason: RefuseReason; detail: string; severity: Notice['severity'] | undefined };

const refuse = (reason: RefuseReason, detail: string, severity?: Notice['severity']): Verdict => ({
  kind: 'refuse',
  reason,
  detail,
  severity,
});

/** How many nodes may be down at once before it is a partition, not a failure: never fewer than one. */
export function stormLimit(total: number, share: number): number {
  return Math.max(1, Math.floor(total * share));
}

/** Swarmkit's rule: a raft of n managers needs more than n/2 of them reachable. */
export function hasQuorum(reachable: number, managers: number): boolean {
  return reachable > managers / 2;
}

export const RECOVERY_PROCEDURE =
  'On one surviving manager run `docker swarm init --force-new-cluster --advertise-addr <its address>`, ' +
  'then promote workers (`docker node promote`) or join new managers until there are 3 or 5 again. ' +
  'Nothing was removed or terminated.';

/**
 * The safety rules, all required (fail closed). Pure: the view of the swarm, the target,
 * the time, and how many replacements happened in the last hour.
 */
export function decideReplacement(
  nodes: readonly NodeState[],
  node: NodeState,
  now: Date,
  settings: SafetySettings,
  recentReplacements: number,
): Verdict {
  const managers = nodes.filter((n) => n.role === 'manager');
  const reachable = managers.filter((m) => m.manager?.reachability === 'reachable');
  if (!hasQuorum(reachable.length, managers.length)) {
    return refuse(
      'quorum-lost',
      `only ${reachable.length} of ${managers.length} managers are reachable: the swarm has lost quorum. ${RECOVERY_PROCEDURE}`,
      'critical',
    );
  }
  if (node.state !== 'down') {
    return refuse('node-not-down', `node ${node.hostname} is ${node.state}, not down`);
  }
  const downFor = now.getTime() - node.updatedAt.getTime();
  if (downFor < settings.nodeDownGraceSeconds * 1_000) {
    return refuse(
      'within-grace',
      `node ${node.hostname} is down since ${node.updatedAt.toISOString()}, less than the grace period of ${settings.nodeDownGraceSeconds} s`,
    );
  }
  const down = nodes.filter((n) => n.state === 'down').length;
  const limit = stormLimit(nodes.length, settings.maxDownShare);
  if (down > limit) {
    return refuse(
      'storm',
      `${down} of ${nodes.length} nodes are down (more than ${limit}): that looks like a partition or an outage, not a node failure. Check the network and the availability zones; replace nodes by hand once the cause is known.`,
      'critical',
    );
  }
  if (node.role === 'manager') {
    const remaining = managers.length - 1;
    const remainingReachable = reachable.filter((m) => m.id !== node.id).length;
    if (!hasQuorum(remainingReachable, remaining)) {
      return refuse(
        'would-lose-quorum',
        `removing manager ${node.hostname} would leave ${remainingReachable} reachable of ${remaining} managers, no majority. Restore a manager first.`,
        'critical',
      );
    }
  }
  if (recentReplacements >= settings.maxReplacementsPerHour) {
    return refuse(
      'rate-limited',
      `${recentReplacements} nodes were replaced in the last hour (limit ${settings.maxReplacementsPerHour}). Look at why nodes keep failing; raise MAX_REPLACEMENTS_PER_HOUR to allow more.`,
      'warning',
    );
  }
  return { kind: 'proceed' };
}

export interface ReplaceNodeDeps {
  swarm: Pick<SwarmNodes, 'listNodes' | 'demoteNode' | 'removeNode' | 'inspectSwarm' | 'updateSwarm'>;
  /** Undefined without AWS (on-prem, local): only the Swarm half is done. */
  cloud: CloudInstances | undefined;
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

/** Replaces each target in turn (one at a time: each decision sees the previous one's effect). */
export async function replaceNodes(
  deps: ReplaceNodeDeps,
  input: ReplaceNodeInput,
): Promise<{ dryRun: boolean; outcomes: ReplaceOutcome[] }> {
  const outcomes: ReplaceOutcome[] = [...input.ignored];
  const seen = new Set<string>();
  for (const { target } of input.targets) {
    const key = `${target.by}:${target.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const log = input.log.child({ target: describeTarget(target) });
    const outcome = await replaceOne(deps, target, input.dryRun, log);
    log.info('decision', { audit: true, ...outcome });
    outcomes.push(outcome);
  }
  return { dryRun: input.dryRun, outcomes };
}

async function replaceOne(
  deps: ReplaceNodeDeps,
  target: Target,
  dryRun: boolean,
  log: Logger,
): Promise<ReplaceOutcome> {
  const name = describeTarget(target);
  try {
    // What this invocation already did, so that its own retry resumes without waiting.
    const memo: Memo = { removed: new Set() };
    return await retryAttempt(
      { attempts: deps.settings.updateAttempts, sleep: deps.sleep, random: deps.random },
      () => attempt(deps, target, dryRun, log, memo),
    );
  } catch (error) {
    // A manager that lost quorum often times out rather than saying so: ask it plainly.
    if (!(error instanceof QuorumLostError) && !(await quorumLost(deps, error))) throw error;
    // The managers we reach have no leader: nothing can be changed, a person must act.
    const detail = `the swarm has no leader, too few managers are reachable. ${RECOVERY_PROCEDURE}`;
    await deps.notifier.notify({
      severity: 'critical',
      title: `Swarm lost quorum: cannot replace ${name}`,
      text: detail,
      fields: { target: name },
    });
    return { kind: 'refused', target: name, reason: 'quorum-lost', detail };
  }
}

interface Memo {
  /** Nodes this invocation removed, or asked Docker to remove without hearing the answer. */
  removed: Set<string>;
}

async function attempt(
  deps: ReplaceNodeDeps,
  target: Target,
  dryRun: boolean,
  log: Logger,
  memo: Memo,
): Promise<ReplaceOutcome> {
  const name = describeTarget(target);
  const now = deps.clock.now();
  const nodes = await deps.swarm.listNodes();
  const node = resolveTarget(nodes, target);
  if (node === 'ambiguous') {
    const outcome = {
      kind: 'refused',
      target: name,
      reason: 'ambiguous-target',
      detail: `several nodes match ${name}`,
    } as const;
    await notifyRefusal(deps, name, outcome.detail, 'warning');
    return outcome;
  }
  if (!node) return resume(deps, target, name, now, log, memo);

  // The instance behind the node, and whether it is ours to terminate.
  let instance: InstanceInfo | undefined;
  if (deps.cloud) {
    instance = await findInstance(deps.cloud, node);
    const refusal = checkInstance(instance, deps.settings.clusterTag, node);
    if (refusal) {
      // Only refuse loudly once the node is really a candidate; a Ready node is routine.
      if (node.state === 'down') await notifyRefusal(deps, name, refusal.detail, 'warning');
      return { kind: 'refused', target: name, node: node.id, ...refusal };
    }
  }

  const recent = await countRecentReplacements(deps, now, node.id);
  const verdict = decideReplacement(nodes, node, now, deps.settings, recent);
  if (verdict.kind === 'refuse') {
    if (verdict.severity) await notifyRefusal(deps, name, verdict.detail, verdict.severity);
    return { kind: 'refused', target: name, node: node.id, reason: verdict.reason, detail: verdict.detail };
  }

  const plan = [
    ...(instance ? [`tag ${instance.id} as being replaced`] : []),
    ...(node.role === 'manager' ? [`demote manager ${node.hostname}`] : []),
    `remove node ${node.hostname} (${node.id})`,
    ...(instance && isLive(instance) ? [`terminate ${instance.id}`] : []),
  ];
  if (dryRun)
    return {
      kind: 'skipped',
      target: name,
      node: node.id,
      reason: 'dry-run',
      detail: 'nothing changed',
      steps: plan,
    };

  const steps: string[] = [];
  const since = instance?.tags[REPLACING_SINCE_TAG] ?? now.toISOString();
  if (instance && deps.cloud) {
    await deps.cloud.tagInstance(instance.id, {
      [REPLACING_NODE_TAG]: node.id,
      [REPLACING_SINCE_TAG]: since,
      'swarm-reflex:replacing-hostname': node.hostname,
    });
    steps.push(`tagged ${instance.id}`);
  } else if (!deps.cloud) {
    await recordRemoval(deps, node.id, now);
  }
  if (node.role === 'manager') {
    await deps.swarm.demoteNode(node);
    steps.push(`demoted ${node.hostname}`);
    await announce(
      deps,
      'info',
      `Demoted dead manager ${node.hostname}`,
      `${node.hostname} (${node.id}) was down since ${node.updatedAt.toISOString()}; quorum kept.`,
    );
  }
  // Marked before the call: a removal whose answer is lost (Docker applied it, the connection
  // dropped) leaves the node gone, and this invocation's retry must then terminate, not wait.
  memo.removed.add(node.id);
  if ((await deps.swarm.removeNode(node.id)) === 'not-found') {
    memo.removed.delete(node.id);
    // Another delivery removed it between our read and now: that one finishes the job.
    return {
      kind: 'skipped',
      target: name,
      node: node.id,
      reason: 'in-progress',
      detail: 'another delivery is replacing this node',
    };
  }
  steps.push(`removed ${node.hostname}`);
  await announce(
    deps,
    'info',
    `Removed dead node ${node.hostname} from the swarm`,
    `${node.role} ${node.hostname} (${node.id}) was down since ${node.updatedAt.toISOString()}.`,
  );
  if (instance && deps.cloud && isLive(instance)) {
    await deps.cloud.terminateInstance(instance.id);
    steps.push(`terminated ${instance.id}`);
    await announce(
      deps,
      'info',
      `Terminated ${instance.id}`,
      `It ran ${node.hostname}; its Auto Scaling group launches the replacement, which joins with the tokens in SSM.`,
    );
  }
  log.info('replaced', { node: node.id, steps });
  return {
    kind: 'replaced',
    target: name,
    node: node.id,
    hostname: node.hostname,
    role: node.role,
    instance: instance?.id,
    steps,
    detail: deps.cloud
      ? 'node removed; the Auto Scaling group replaces the instance'
      : 'node removed from the swarm; no instance was replaced (no cloud configured)',
  };
}

/** The node is gone: finish a replacement that removed it but did not terminate its instance. */
async function resume(
  deps: ReplaceNodeDeps,
  target: Target,
  name: string,
  now: Date,
  log: Logger,
  memo: Memo,
): Promise<ReplaceOutcome> {
  if (!deps.cloud)
    return { kind: 'refused', target: name, reason: 'unknown-node', detail: `no node matches ${name}` };
  const candidates =
    target.by === 'instance-id'
      ? [await deps.cloud.describeInstance(target.value)].filter((i): i is InstanceInfo => i !== undefined)
      : (await deps.cloud.listReplacements()).filter((i) =>
          target.by === 'node'
            ? i.tags[REPLACING_NODE_TAG] === target.value ||
              i.tags['swarm-reflex:replacing-hostname'] === target.value
            : i.privateIp === target.value,
        );
  const ours = candidates.filter(
    (i) =>
      i.tags[REPLACING_NODE_TAG] !== undefined &&
      i.tags[deps.settings.clusterTag?.key ?? ''] === deps.settings.clusterTag?.value,
  );
  const live = ours.filter(isLive);
  if (ours.length === 0)
    return { kind: 'refused', target: name, reason: 'unknown-node', detail: `no node matches ${name}` };
  if (live.length === 0) {
    return {
      kind: 'skipped',
      target: name,
      reason: 'already-replaced',
      detail: 'the node was removed and its instance terminated',
    };
  }
  const instance = live[0] as InstanceInfo;
  const since = Date.parse(instance.tags[REPLACING_SINCE_TAG] ?? '');
  // Another caller's replacement is given a minute to finish; our own is resumed at once.
  const removedByUs = memo.removed.has(instance.tags[REPLACING_NODE_TAG] ?? '');
  if (!removedByUs && !Number.isNaN(since) && now.getTime() - since < RESUME_AFTER_MS) {
    return {
      kind: 'skipped',
      target: name,
      reason: 'in-progress',
      detail: `${instance.id} is being replaced`,
    };
  }
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
    hostname: instance.tags['swarm-reflex:replacing-hostname'] ?? '',
    role: 'worker',
    instance: instance.id,
    steps: [`terminated ${instance.id}`],
    detail: 'resumed an interrupted replacement: the node had left the swarm, its instance is now terminated',
  };
}

async function quorumLost(deps: ReplaceNodeDeps, error: unknown): Promise<boolean> {
  if (!(error instanceof DependencyUnavailableError) || error.dependency !== 'docker') return false;
  try {
    await deps.swarm.inspectSwarm();
    return false;
  } catch (probe) {
    return probe instanceof QuorumLostError;
  }
}

function isLive(i: InstanceInfo): boolean {
  return i.state !== 'terminated' && i.state !== 'shutting-down';
}

async function findInstance(cloud: CloudInstances, node: NodeState): Promise<InstanceInfo | undefined> {
  const id = node.engineLabels[INSTANCE_ID_LABEL];
  if (id !== undefined && instanceId.test(id)) return cloud.describeInstance(id);
  // Nodes bootstrapped without the label: the node's address is the instance's private address.
  return node.address ? cloud.findByAddress(node.address) : undefined;
}

function checkInstance(
  instance: InstanceInfo | undefined,
  clusterTag: { key: string; value: string } | undefined,
  node: NodeState,
): { reason: RefuseReason; detail: string } | undefined {
  if (!instance) {
    return {
      reason: 'no-instance',
      detail: `no EC2 instance of this cluster found for node ${node.hostname} (engine label ${INSTANCE_ID_LABEL} or address ${node.address || 'unknown'})`,
    };
  }
  if (!clusterTag || instance.tags[clusterTag.key] !== clusterTag.value) {
    return {
      reason: 'not-cluster-instance',
      detail: `instance ${instance.id} of node ${node.hostname} does not carry this cluster's tag ${clusterTag?.key}=${clusterTag?.value}; not touching it`,
    };
  }
  return undefined;
}

async function countRecentReplacements(deps: ReplaceNodeDeps, now: Date, nodeId: string): Promise<number> {
  const cutoff = now.getTime() - ONE_HOUR_MS;
  if (deps.cloud) {
    const replacements = await deps.cloud.listReplacements();
    return replacements.filter(
      (i) => i.tags[REPLACING_NODE_TAG] !== nodeId && Date.parse(i.tags[REPLACING_SINCE_TAG] ?? '') > cutoff,
    ).length;
  }
  const swarm = await deps.swarm.inspectSwarm();
  return Object.entries(swarm.labels).filter(
    ([k, v]) =>
      k.startsWith(REMOVAL_LABEL_PREFIX) && k !== REMOVAL_LABEL_PREFIX + nodeId && Date.parse(v) > cutoff,
  ).length;
}

/** On-prem: the removal is written on the swarm itself (versioned), old entries pruned. */
async function recordRemoval(deps: ReplaceNodeDeps, nodeId: string, now: Date): Promise<void> {
  const swarm = await deps.swarm.inspectSwarm();
  const cutoff = now.getTime() - ONE_HOUR_MS;
  const labels: Record<string, string | undefined> = { [REMOVAL_LABEL_PREFIX + nodeId]: now.toISOString() };
  for (const [k, v] of Object.entries(swarm.labels)) {
    if (k.startsWith(REMOVAL_LABEL_PREFIX) && !(Date.parse(v) > cutoff)) labels[k] = undefined;
  }
  await deps.swarm.updateSwarm(swarm, { labels });
}

async function notifyRefusal(
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

async function announce(deps: ReplaceNodeDeps, severity: Notice['severity'], title: string, text: string) {
  await deps.notifier.notify({ severity, title, text });
}
