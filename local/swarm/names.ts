/**
 * How a swarm names what it puts on the host. Creating and cleaning up both go by these
 * names: `cleanupLeftovers` recognises a crashed run's bridges, veths, netns, cgroups,
 * FORWARD rules and temp dirs by them.
 */

export const BUSYBOX_IMAGE = 'local/busybox:1';

export const PREFIX = 'srx';
// Temp dirs, cgroups and the FORWARD rule's comment are named after the swarm's temp dir.
export const SWARM_DIR_PREFIX = `${PREFIX}swarm-`;
export const IMAGE_DIR_PREFIX = `${PREFIX}img-`;
export const NETNS_DIR = '/var/run/netns';
export const CGROUP_ROOT = '/sys/fs/cgroup';
export const DAEMON_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const BUSYBOX = '/bin/busybox';
