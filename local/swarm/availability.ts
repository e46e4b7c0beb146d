import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX, DAEMON_PATH } from './names';

const REQUIRED_TOOLS = [
  'dockerd',
  'containerd',
  'runc',
  'ip',
  'iptables',
  'nsenter',
  'unshare',
  'tar',
  'umount',
];

/** Undefined when this machine can run real swarms; otherwise why not, in one line. */
export function harnessUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, bridges, dockerd)';
  const missing = REQUIRED_TOOLS.filter((tool) => findExecutable(tool) === undefined);
  if (missing.length > 0) {
    return `missing ${missing.join(', ')} (apt-get install docker.io iproute2 iptables util-linux)`;
  }
  if (!existsSync(BUSYBOX)) return `missing ${BUSYBOX} (apt-get install busybox-static)`;
  if (isDynamicallyLinked(BUSYBOX)) {
    return `${BUSYBOX} is dynamically linked and cannot run alone in an image (apt-get install busybox-static)`;
  }
  if (!existsSync('/proc/self/ns/net')) return 'the kernel has no network namespaces';
  return undefined;
}

function findExecutable(name: string): string | undefined {
  for (const dir of DAEMON_PATH.split(':')) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

function isDynamicallyLinked(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const read = readSync(fd, head, 0, head.length, 0);
    // A dynamic ELF names its loader (PT_INTERP) near the start of the file.
    return head.subarray(0, read).includes('/ld-linux');
  } finally {
    closeSync(fd);
  }
}
