import { replaceNodes } from '../../../../functions/replace-node/replace-node';
import type { Target } from '../../../../functions/replace-node/target';
import type { ReplaceNodeDeps } from '../../../../functions/replace-node/types';
import { createLogger } from '../../../../shared/adapters/logger';
import type { CloudInstances, InstanceInfo } from '../../../../shared/domain/cloud';
import { type FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

/**
 * A cloud that answers with exactly these instances, whatever their tags or addresses (no
 * cluster filter of an adapter in between): what replace-node's own rules must hold against.
 */
export function stubCloud(instances: InstanceInfo[], options: { clusterVisible?: boolean } = {}) {
  const terminated: string[] = [];
  const untagged: string[] = [];
  const lookups: string[] = [];
  const cloud: CloudInstances = {
    describeInstance: async (id) => {
      lookups.push(id);
      return instances.find((i) => i.id === id);
    },
    findByAddress: async (address) => {
      lookups.push(address);
      return instances.find((i) => i.privateIp === address);
    },
    clusterVisible: async () => options.clusterVisible ?? true,
    listReplacements: async () => instances,
    tagInstance: async () => {},
    untagInstance: async (id) => {
      untagged.push(id);
    },
    terminateInstance: async (id) => {
      terminated.push(id);
    },
  };
  return { cloud, terminated, untagged, lookups };
}

const safety = { nodeDownGraceSeconds: 120, maxDownShare: 0.34, maxReplacementsPerHour: 2 };

/** Runs replace-node once for one target against this swarm and cloud, at `now`. */
export async function replaceOnce(swarm: FakeNodes, cloud: CloudInstances, target: Target, now: Date) {
  const deps: ReplaceNodeDeps = {
    swarm,
    cloud,
    notifier: recordingNotifier(),
    clock: { now: () => now },
    settings: { ...safety, updateAttempts: 5, clusterTag: { key: 'swarm-reflex:cluster', value: 'prod' } },
    ...fastRetry,
  };
  const log = createLogger({ level: 'error', sink: () => {} });
  const result = await replaceNodes(deps, {
    targets: [{ ref: 'a0', target }],
    ignored: [],
    dryRun: false,
    log,
  });
  return result.outcomes[0];
}
