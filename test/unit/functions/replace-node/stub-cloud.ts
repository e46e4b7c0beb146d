import type { CloudInstances, InstanceInfo } from '../../../../shared/domain/cloud';

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
