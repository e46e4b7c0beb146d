/**
 * Real, isolated multi-node Docker Swarms on one machine, for integration tests and `npm start`.
 *
 * Every node is a dockerd in its own network namespace (and UTS namespace, for its hostname),
 * with its own socket, data root, exec root and cgroup parent, all under one temp dir per swarm.
 * The nodes' veths hang on a per-swarm bridge in the root namespace: 10.88.<k>.0/24 with the
 * bridge on .1. The nodes get no default route, so nothing they do can leave that subnet
 * (registry look-ups fail at once instead of timing out).
 *
 * Everything a swarm creates is recorded in `<tempdir>/meta.json` BEFORE it is created, with
 * the owner's pid, so that `cleanupLeftovers` can tell a crashed run's leftovers from a swarm
 * that another process is starting right now.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import * as z from 'zod';
import { onProcessExit } from './exit-hooks';
import { isAlive, kill, pidsMentioning, processStart, sleep, sleepSync } from './proc';

export interface SwarmNode {
  name: string;
  role: 'manager' | 'worker';
  address: string;
  socketPath: string;
  dockerHost: string;
  nodeId: string;
  pid: number;
  /**
   * The daemon's `--config-file` (daemon.json; `{}` or the engine labels at start). Its
   * dockerd re-reads it on SIGHUP: labels given here, never as `--label` flags, so a reload
   * that changes them is accepted.
   */
  configFile: string;
  /** The daemon's `--pidfile`: the pid to SIGHUP for a reload. */
  pidFile: string;
}

export interface ServiceSpecInput {
  name: string;
  replicas?: number;
  mode?: 'replicated' | 'global';
  labels?: Record<string, string>;
  command?: string[];
}

export interface AddNodeOptions {
  name?: string;
  /** false: start the daemon (with the image) but leave joining to someone else. */
  join?: boolean;
  /**
   * Engine labels, i.e. what `docker info` and node.Description.Engine.Labels show. Written to
   * the node's daemon.json (not `--label` flags), so a SIGHUP reload may change them.
   */
  engineLabels?: Record<string, string>;
}

export interface TestSwarm {
  readonly nodes: SwarmNode[];
  readonly manager: SwarmNode;
  /** The temp dir holding every node's sockets, data, exec roots and `dockerd.log`. */
  readonly dir: string;
  /** The bridge's address, i.e. how the nodes reach the root namespace. */
  readonly gateway: string;
  /** What this swarm created on the host, by name; all of it is gone after teardown. */
  readonly hostResources: HostResources;
  docker(node?: SwarmNode): Docker;
  node(name: string): SwarmNode;
  joinTokens(): Promise<{ worker: string; manager: string }>;
  createService(spec: ServiceSpecInput): Promise<string>;
  waitForRunningTasks(service: string, count: number, timeoutMs?: number): Promise<void>;
  killNode(name: string): Promise<void>;
  /** Starts a killed node's dockerd again on its own data: it comes back as the same swarm node. */
  restartNode(name: string): Promise<void>;
  /**
   * Cuts the node off the swarm network (its veth down inside its own namespace): a minority
   * partition. Its unix socket still answers; a cut-off manager soon reports no leader.
   */
  isolateNode(name: string): Promise<void>;
  /** Undoes isolateNode: the node rejoins on its own. */
  reconnectNode(name: string): Promise<void>;
  waitForNodeState(name: string, state: 'ready' | 'down', timeoutMs?: number): Promise<void>;
  addNode(role: 'manager' | 'worker', opts?: AddNodeOptions): Promise<SwarmNode>;
  teardown(): Promise<void>;
}

export interface HostResources {
  bridge: string;
  netns: string[];
  veths: string[];
  cgroups: string[];
  /** The arguments of its rule in the FORWARD chain, as `iptables -S` prints them. */
  forwardRule: string[];
}

export interface StartSwarmOptions {
  managers?: number;
  workers?: number;
  /** Only used in messages, to tell several swarms of one run apart. */
  label?: string;
  log?: (message: string) => void;
}

export const BUSYBOX_IMAGE = 'local/busybox:1';

const PREFIX = 'srx';
// Temp dirs, cgroups and the FORWARD rule's comment are named after the swarm's temp dir.
const SWARM_DIR_PREFIX = `${PREFIX}swarm-`;
const IMAGE_DIR_PREFIX = `${PREFIX}img-`;
const SWARM_PORT = 2377;
const NETNS_DIR = '/var/run/netns';
const CGROUP_ROOT = '/sys/fs/cgroup';
const SHIM_SOCKET_DIR = '/run/containerd/s';
// Overlay networks would otherwise come out of 10.0.0.0/8 and could overlap 10.88.0.0/16.
const OVERLAY_POOL = '10.201.0.0/16';
const DAEMON_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
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
const BUSYBOX = '/bin/busybox';

const metaSchema = z.object({
  ownerPid: z.number(),
  ownerStart: z.string(),
  index: z.number(),
  bridge: z.string(),
  rule: z.array(z.string()),
  netns: z.array(z.string()),
  veths: z.array(z.string()),
  cgroups: z.array(z.string()),
});
type SwarmMeta = z.infer<typeof metaSchema>;

interface NodeRuntime {
  node: SwarmNode;
  index: number;
  dir: string;
  netns: string;
  veth: string;
  cgroup: string;
  child: ChildProcess | undefined;
  client: Docker;
}

// ---------------------------------------------------------------------------------------
// Availability

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

// ---------------------------------------------------------------------------------------
// Small process and system helpers

class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`${command} failed: ${stderr.trim() || 'no output'}`, options);
    this.name = 'CommandError';
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { PATH: DAEMON_PATH } }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${command} ${args.join(' ')}`, `${stderr}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** For teardown: never throws, reports whether it worked. */
function runQuiet(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { env: { PATH: DAEMON_PATH }, stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

function readOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { env: { PATH: DAEMON_PATH }, encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout : '';
}

/** Every directory of the cgroup `name` in every hierarchy (v1 controllers and v2). */
function cgroupDirs(name: string): string[] {
  const dirs: string[] = [];
  const direct = join(CGROUP_ROOT, name);
  if (existsSync(direct)) dirs.push(direct);
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync(CGROUP_ROOT);
  } catch {
    return dirs;
  }
  for (const hierarchy of hierarchies) {
    const dir = join(CGROUP_ROOT, hierarchy, name);
    if (existsSync(dir)) dirs.push(dir);
  }
  return dirs;
}

function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (path: string): void => {
    try {
      for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim() !== '') pids.push(Number(line));
      }
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(path, entry.name));
      }
    } catch {
      // removed meanwhile
    }
  };
  walk(dir);
  return pids;
}

function removeCgroup(dir: string): void {
  const walk = (path: string): void => {
    try {
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(path, entry.name));
      }
      rmdirSync(path);
    } catch {
      // still busy or gone; a later sweep retries
    }
  };
  walk(dir);
}

function mountsUnder(dir: string): string[] {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decodeOctal = (path: string): string =>
    path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
  return info
    .split('\n')
    .map((line) => decodeOctal(line.split(' ')[4] ?? ''))
    .filter((mount) => mount === dir || mount.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function unmountAll(dir: string): void {
  for (let pass = 0; pass < 3; pass++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    // Lazy: a mount still held by a dying process must not stop the rest of the cleanup.
    runQuiet('umount', ['-l', ...mounts]);
  }
}

function listLinks(): string[] {
  return readOutput('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter((name) => name !== '');
}

function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

function forwardRules(): string[][] {
  return readOutput('iptables', ['-w', '-S', 'FORWARD'])
    .split('\n')
    .filter((line) => line.startsWith('-A FORWARD '))
    .map((line) => line.split(' ').slice(2));
}

function readMeta(dir: string): SwarmMeta | undefined {
  try {
    const parsed = metaSchema.safeParse(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function writeMeta(dir: string, meta: SwarmMeta): void {
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
}

const ownerAlive = (meta: SwarmMeta): boolean => processStart(meta.ownerPid) === meta.ownerStart;

// ---------------------------------------------------------------------------------------
// Destroying what a swarm created (also used for leftovers of crashed runs)

/**
 * SIGKILLs every process of the swarm: daemons, containerd, shims (they name the swarm dir on
 * their command line) and containers (they live in the nodes' cgroups). Loops because a dying
 * swarm agent may still start a task container.
 */
function killEverything(dir: string, cgroups: string[]): void {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const pids = [...pidsMentioning(`${dir}/`), ...cgroups.flatMap(cgroupDirs).flatMap(cgroupPids)].filter(
      isAlive,
    );
    if (pids.length === 0) return;
    for (const pid of pids) kill(pid, 'SIGKILL');
    sleepSync(50);
  }
}

/** Shim sockets live outside the swarm dir, named by a hash of containerd address, namespace and task id. */
function removeShimSockets(dir: string): void {
  const execRoots = (() => {
    try {
      return readdirSync(dir).map((node) => join(dir, node, 'exec'));
    } catch {
      return [];
    }
  })();
  for (const execRoot of execRoots) {
    const tasks = join(execRoot, 'containerd', 'daemon', 'io.containerd.runtime.v2.task');
    let namespaces: string[] = [];
    try {
      namespaces = readdirSync(tasks);
    } catch {
      continue;
    }
    const address = join(execRoot, 'containerd', 'containerd.sock');
    for (const ns of namespaces) {
      let ids: string[] = [];
      try {
        ids = readdirSync(join(tasks, ns));
      } catch {
        continue;
      }
      for (const id of ids) {
        const hash = createHash('sha256')
          .update(join(address, ns, id))
          .digest('hex');
        rmSync(join(SHIM_SOCKET_DIR, hash), { force: true });
      }
    }
  }
}

function destroyResources(dir: string, meta: SwarmMeta | undefined): void {
  const cgroups = meta?.cgroups ?? [];
  killEverything(dir, cgroups);
  removeShimSockets(dir);
  unmountAll(dir);
  for (const cgroup of cgroups) for (const cgroupDir of cgroupDirs(cgroup)) removeCgroup(cgroupDir);
  if (meta) {
    const links = new Set(listLinks());
    // Deleting the host end takes the peer with it at once; deleting only the netns does so later.
    for (const veth of meta.veths) if (links.has(veth)) runQuiet('ip', ['link', 'del', veth]);
    for (const netns of meta.netns)
      if (existsSync(join(NETNS_DIR, netns))) runQuiet('ip', ['netns', 'del', netns]);
    if (links.has(meta.bridge)) runQuiet('ip', ['link', 'del', meta.bridge]);
    if (meta.rule.length > 0) {
      const wanted = meta.rule.join(' ');
      if (forwardRules().some((rule) => rule.join(' ') === wanted)) {
        runQuiet('iptables', ['-w', '-D', 'FORWARD', ...meta.rule]);
      }
    }
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch {
      unmountAll(dir);
      sleepSync(100);
    }
  }
}

/**
 * Removes what crashed earlier runs left behind: daemons, cgroups, mounts, netns, veths,
 * bridges, FORWARD rules and temp dirs named with our prefix whose owner process is gone.
 * Swarms of live processes (another test file running now) are left alone.
 */
export async function cleanupLeftovers(): Promise<void> {
  cleanupLeftoversSync();
}

function cleanupLeftoversSync(): void {
  // Look at the system first and at the metas second: a swarm records each object in its
  // meta before creating it, so whatever we see here already has its owner on disk.
  const links = listLinks();
  const netnsNames = listNetns();
  const rules = forwardRules();
  const cgroupNames = new Set(
    [CGROUP_ROOT, ...safeReaddir(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h))]
      .flatMap(safeReaddir)
      .filter((name) => name.startsWith(SWARM_DIR_PREFIX)),
  );
  const tempDirs = safeReaddir(tmpdir())
    .filter((name) => new RegExp(`^${SWARM_DIR_PREFIX}[A-Za-z0-9]{6}$`).test(name))
    .map((name) => join(tmpdir(), name));
  for (const name of safeReaddir(tmpdir()).filter((n) =>
    new RegExp(`^${IMAGE_DIR_PREFIX}[A-Za-z0-9]{6}$`).test(n),
  )) {
    const dir = join(tmpdir(), name);
    if (ageMs(dir) > 60_000) rmSync(dir, { recursive: true, force: true });
  }

  const protectedNames = new Set<string>();
  for (const dir of tempDirs) {
    const meta = readMeta(dir);
    if (meta && ownerAlive(meta)) {
      for (const name of [meta.bridge, ...meta.netns, ...meta.veths, ...meta.cgroups, meta.rule.join(' ')]) {
        protectedNames.add(name);
      }
      continue;
    }
    if (!meta && ageMs(dir) < 60_000) continue; // being created right now, meta not written yet
    destroyResources(dir, meta);
  }

  const strays = pidsMentioning(join(tmpdir(), SWARM_DIR_PREFIX)).filter((pid) => {
    const owner = swarmDirOf(pid);
    return owner !== undefined && !existsSync(join(owner, 'meta.json'));
  });
  for (const pid of strays) kill(pid, 'SIGKILL');

  for (const cgroup of cgroupNames) {
    if (protectedNames.has(cgroup)) continue;
    for (const dir of cgroupDirs(cgroup)) {
      for (const pid of cgroupPids(dir)) kill(pid, 'SIGKILL');
      removeCgroup(dir);
    }
  }
  const ours = (name: string): boolean => new RegExp(`^${PREFIX}\\d+(br|v\\d+h)$`).test(name);
  for (const link of links)
    if (ours(link) && !protectedNames.has(link)) runQuiet('ip', ['link', 'del', link]);
  for (const netns of netnsNames) {
    if (new RegExp(`^${PREFIX}\\d+-`).test(netns) && !protectedNames.has(netns)) {
      runQuiet('ip', ['netns', 'del', netns]);
    }
  }
  for (const rule of rules) {
    const comment = rule[rule.indexOf('--comment') + 1] ?? '';
    if (
      rule.includes('--comment') &&
      comment.startsWith(SWARM_DIR_PREFIX) &&
      !protectedNames.has(rule.join(' '))
    ) {
      runQuiet('iptables', ['-w', '-D', 'FORWARD', ...rule]);
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function swarmDirOf(pid: number): string | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const match = new RegExp(`${escapeRegExp(join(tmpdir(), SWARM_DIR_PREFIX))}[A-Za-z0-9]{6}`).exec(cmdline);
    return match?.[0];
  } catch {
    return undefined;
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------
// The busybox image

let imageTar: Promise<Buffer> | undefined;

/** A tar of a rootfs with the static busybox and a link per applet. Built once per process. */
function busyboxTar(): Promise<Buffer> {
  imageTar ??= buildBusyboxTar();
  return imageTar;
}

async function buildBusyboxTar(): Promise<Buffer> {
  const root = mkdtempSync(join(tmpdir(), IMAGE_DIR_PREFIX));
  try {
    for (const dir of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var']) mkdirSync(join(root, dir));
    chmodSync(join(root, 'tmp'), 0o1777);
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    const applets = (await run(BUSYBOX, ['--list'])).split('\n').filter((a) => /^[\w.[-]+$/.test(a));
    for (const applet of applets) {
      if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
    }
    writeFileSync(
      join(root, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
    );
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    return await new Promise<Buffer>((resolve, reject) => {
      execFile(
        'tar',
        ['-C', root, '-c', '.'],
        { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new CommandError('tar', stderr.toString(), { cause: err }));
          else resolve(stdout);
        },
      );
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function importBusybox(client: Docker): Promise<void> {
  const tar = await busyboxTar();
  const [repo, tag] = BUSYBOX_IMAGE.split(':');
  const stream = await client.importImage(Readable.from([tar]), { repo, tag });
  await new Promise<void>((resolve, reject) => {
    client.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((event) => event.error !== undefined);
      if (err) reject(err);
      else if (failed) reject(new Error(`docker import failed: ${failed.error}`));
      else resolve();
    });
  });
  await client.getImage(BUSYBOX_IMAGE).inspect();
}

// ---------------------------------------------------------------------------------------
// Docker API shapes we read (dockerode types these as any)

interface NodeInfo {
  ID: string;
  Description?: { Hostname?: string };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Reachability?: string };
}

interface TaskInfo {
  ID: string;
  NodeID?: string;
  DesiredState?: string;
  Status?: { State?: string; Err?: string; Message?: string };
}

// ---------------------------------------------------------------------------------------
// Starting a swarm

/** Starts `managers` (default 1) + `workers` (default 0) nodes, the first manager init'ed, all Ready. */
export async function startSwarm(opts: StartSwarmOptions = {}): Promise<TestSwarm> {
  const reason = harnessUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start a test swarm: ${reason}`);
  const managers = opts.managers ?? 1;
  const workers = opts.workers ?? 0;
  if (!Number.isInteger(managers) || managers < 1) throw new Error('a swarm needs at least one manager');
  if (!Number.isInteger(workers) || workers < 0) throw new Error('workers must be a whole number >= 0');

  cleanupLeftoversSync();
  const swarm = await SwarmHandle.create(opts);
  try {
    const specs = [
      ...Array.from({ length: managers }, (_, i) => ({ role: 'manager' as const, name: `m${i + 1}` })),
      ...Array.from({ length: workers }, (_, i) => ({ role: 'worker' as const, name: `w${i + 1}` })),
    ];
    const started = await Promise.all(specs.map((spec) => swarm.startNode(spec.role, spec.name, {})));
    const [first, ...rest] = started;
    if (!first) throw new Error('no node started');
    await swarm.init(first);
    // Raft takes members one at a time; workers can come all at once.
    for (const runtime of rest.filter((r) => r.node.role === 'manager')) await swarm.join(runtime);
    await Promise.all(rest.filter((r) => r.node.role === 'worker').map((r) => swarm.join(r)));
    await swarm.waitForReady(started.map((r) => r.node));
    return swarm;
  } catch (err) {
    await swarm.teardown();
    throw err;
  }
}

class SwarmHandle implements TestSwarm {
  private readonly runtimes: NodeRuntime[] = [];
  /** Nodes cut off by isolateNode: never asked about the swarm (they see no leader). */
  private readonly isolated = new Set<string>();
  private tornDown: Promise<void> | undefined;
  private readonly unregisterExitHook: () => void;

  private constructor(
    readonly dir: string,
    private readonly meta: SwarmMeta,
    private readonly opts: StartSwarmOptions,
  ) {
    this.unregisterExitHook = onProcessExit(() => this.teardownSync());
  }

  static async create(opts: StartSwarmOptions): Promise<SwarmHandle> {
    const dir = mkdtempSync(join(tmpdir(), SWARM_DIR_PREFIX));
    const ownerStart = processStart(process.pid) ?? '';
    const meta: SwarmMeta = {
      ownerPid: process.pid,
      ownerStart,
      index: 0,
      bridge: '',
      rule: [],
      netns: [],
      veths: [],
      cgroups: [],
    };
    writeMeta(dir, meta);
    const swarm = new SwarmHandle(dir, meta, opts);
    try {
      await swarm.claimNetwork();
    } catch (err) {
      await swarm.teardown();
      throw err;
    }
    return swarm;
  }

  get nodes(): SwarmNode[] {
    return this.runtimes.map((r) => r.node);
  }

  get manager(): SwarmNode {
    const first = this.runtimes.find((r) => r.node.role === 'manager');
    if (!first) throw new Error('this swarm has no manager');
    return first.node;
  }

  get gateway(): string {
    return `10.88.${this.meta.index}.1`;
  }

  get hostResources(): HostResources {
    const { bridge, netns, veths, cgroups, rule } = this.meta;
    return { bridge, netns: [...netns], veths: [...veths], cgroups: [...cgroups], forwardRule: [...rule] };
  }

  docker(node: SwarmNode = this.manager): Docker {
    return this.runtime(node.name).client;
  }

  node(name: string): SwarmNode {
    return this.runtime(name).node;
  }

  async joinTokens(): Promise<{ worker: string; manager: string }> {
    const info: { JoinTokens?: { Worker?: string; Manager?: string } } =
      await this.liveManager().swarmInspect();
    const worker = info.JoinTokens?.Worker;
    const manager = info.JoinTokens?.Manager;
    if (!worker || !manager) throw new Error('the manager returned no join tokens');
    return { worker, manager };
  }

  async createService(spec: ServiceSpecInput): Promise<string> {
    const client = this.liveManager();
    const service = await client.createService({
      Name: spec.name,
      Labels: spec.labels ?? {},
      TaskTemplate: {
        ContainerSpec: {
          Image: BUSYBOX_IMAGE,
          Command: spec.command ?? ['sleep', '3600'],
          // busybox sleep as pid 1 ignores SIGTERM: keep the wait for SIGKILL short.
          StopGracePeriod: 1_000_000_000,
        },
        RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
      },
      Mode: spec.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: spec.replicas ?? 1 } },
    });
    await poll(`service ${spec.name} to exist`, 15_000, async () => {
      await client.getService(service.id).inspect();
      return true;
    });
    return service.id;
  }

  async waitForRunningTasks(service: string, count: number, timeoutMs = 60_000): Promise<void> {
    let last: TaskInfo[] = [];
    await poll(
      `${count} running tasks of ${service}`,
      timeoutMs,
      async () => {
        last = await this.liveManager().listTasks({
          filters: { service: [service], 'desired-state': ['running'] },
        });
        return last.filter((task) => task.Status?.State === 'running').length === count;
      },
      () => `tasks: ${describeTasks(last)}`,
    );
  }

  /** Simulates the machine dying: SIGKILL its dockerd, containerd, shims and containers. */
  async killNode(name: string): Promise<void> {
    const runtime = this.runtime(name);
    const pids = [
      runtime.node.pid,
      ...pidsMentioning(`${runtime.dir}/`),
      ...cgroupDirs(runtime.cgroup).flatMap(cgroupPids),
    ].filter(isAlive);
    for (const pid of pids) kill(pid, 'SIGKILL');
    await poll(`node ${name}'s processes to exit`, 10_000, async () => !pids.some(isAlive));
    runtime.node.pid = 0;
    this.log(`killed ${name}`);
  }

  async restartNode(name: string): Promise<void> {
    const runtime = this.runtime(name);
    if (runtime.node.pid !== 0 && isAlive(runtime.node.pid)) throw new Error(`node ${name} is still running`);
    const written = JSON.parse(safeRead(runtime.node.configFile) || '{}') as { labels?: string[] };
    const labels = Object.fromEntries(
      (written.labels ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    await this.startDaemon(runtime, labels);
    this.log(`restarted ${name}`);
  }

  async isolateNode(name: string): Promise<void> {
    await run('ip', ['-n', this.runtime(name).netns, 'link', 'set', 'eth0', 'down']);
    this.isolated.add(name);
    this.log(`isolated ${name}`);
  }

  async reconnectNode(name: string): Promise<void> {
    await run('ip', ['-n', this.runtime(name).netns, 'link', 'set', 'eth0', 'up']);
    this.isolated.delete(name);
    this.log(`reconnected ${name}`);
  }

  async waitForNodeState(name: string, state: 'ready' | 'down', timeoutMs = 60_000): Promise<void> {
    const runtime = this.runtime(name);
    let seen = 'unknown';
    await poll(
      `node ${name} to be ${state}`,
      timeoutMs,
      async () => {
        const id = await this.nodeIdOf(runtime);
        if (id === '') return false;
        const info: NodeInfo = await this.liveManager().getNode(id).inspect();
        seen = info.Status?.State ?? 'unknown';
        return seen === state;
      },
      () => `last state: ${seen}`,
    );
  }

  async addNode(role: 'manager' | 'worker', opts: AddNodeOptions = {}): Promise<SwarmNode> {
    const name = opts.name ?? this.nextName(role);
    const runtime = await this.startNode(role, name, opts.engineLabels ?? {});
    if (opts.join !== false) {
      await this.join(runtime);
      await this.waitForReady([runtime.node]);
    }
    return runtime.node;
  }

  teardown(): Promise<void> {
    this.tornDown ??= this.teardownAsync();
    return this.tornDown;
  }

  // -------------------------------------------------------------------------------------

  private log(message: string): void {
    this.opts.log?.(
      `[swarm${this.opts.label ? ` ${this.opts.label}` : ''} ${basename(this.dir)}] ${message}`,
    );
  }

  private runtime(name: string): NodeRuntime {
    const runtime = this.runtimes.find((r) => r.node.name === name);
    if (!runtime)
      throw new Error(`no node ${name} in this swarm (${this.nodes.map((n) => n.name).join(', ')})`);
    return runtime;
  }

  /** The first manager whose daemon is still running: the one to ask about the swarm. */
  private liveManager(): Docker {
    const runtime = this.runtimes.find(
      (r) =>
        r.node.role === 'manager' &&
        r.node.pid !== 0 &&
        r.node.nodeId !== '' &&
        !this.isolated.has(r.node.name),
    );
    if (!runtime) throw new Error('no manager of this swarm is running');
    return runtime.client;
  }

  private nextName(role: 'manager' | 'worker'): string {
    const letter = role === 'manager' ? 'm' : 'w';
    for (let i = 1; ; i++) {
      if (!this.runtimes.some((r) => r.node.name === `${letter}${i}`)) return `${letter}${i}`;
    }
  }

  /** The node's swarm ID, read from its own daemon when it was joined by someone else. */
  private async nodeIdOf(runtime: NodeRuntime): Promise<string> {
    if (runtime.node.nodeId === '' && runtime.node.pid !== 0) {
      const info: { Swarm?: { NodeID?: string } } = await runtime.client.info();
      runtime.node.nodeId = info.Swarm?.NodeID ?? '';
    }
    return runtime.node.nodeId;
  }

  private async claimNetwork(): Promise<void> {
    const taken = new Set(listLinks());
    for (let index = 1; index < 255; index++) {
      const bridge = `${PREFIX}${index}br`;
      if (taken.has(bridge)) continue;
      this.meta.index = index;
      this.meta.bridge = bridge;
      writeMeta(this.dir, this.meta);
      try {
        // Creating the bridge is the claim: of two swarms racing for an index, one gets EEXIST.
        await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      } catch (err) {
        if (err instanceof CommandError && /exists/i.test(err.stderr)) continue;
        throw err;
      }
      await run('ip', ['addr', 'add', `10.88.${index}.1/24`, 'dev', bridge]);
      await run('ip', ['link', 'set', bridge, 'up']);
      const subnet = `10.88.${index}.0/24`;
      // br_netfilter sends bridged frames through FORWARD, which a host dockerd sets to DROP.
      this.meta.rule = [
        '-s',
        subnet,
        '-d',
        subnet,
        '-m',
        'comment',
        '--comment',
        basename(this.dir),
        '-j',
        'ACCEPT',
      ];
      writeMeta(this.dir, this.meta);
      await run('iptables', ['-w', '-I', 'FORWARD', ...this.meta.rule]);
      this.log(`bridge ${bridge} on 10.88.${index}.1/24`);
      return;
    }
    throw new Error(
      'no free 10.88.<k>.0/24 left for a test swarm (too many leftovers? see cleanupLeftovers)',
    );
  }

  async startNode(
    role: 'manager' | 'worker',
    name: string,
    engineLabels: Record<string, string>,
  ): Promise<NodeRuntime> {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new Error(`bad node name ${JSON.stringify(name)}`);
    if (this.runtimes.some((r) => r.node.name === name)) throw new Error(`node ${name} exists already`);
    const index = this.runtimes.length === 0 ? 1 : Math.max(...this.runtimes.map((r) => r.index)) + 1;
    if (index > 200) throw new Error('too many nodes in one test swarm');
    const k = this.meta.index;
    const dir = join(this.dir, name);
    const socketPath = join(dir, 'docker.sock');
    if (socketPath.length > 100) throw new Error(`socket path too long for a unix socket: ${socketPath}`);
    const runtime: NodeRuntime = {
      node: {
        name,
        role,
        address: `10.88.${k}.${index + 10}`,
        socketPath,
        dockerHost: `unix://${socketPath}`,
        nodeId: '',
        pid: 0,
        configFile: join(dir, 'daemon.json'),
        pidFile: join(dir, 'docker.pid'),
      },
      index,
      dir,
      netns: `${PREFIX}${k}-${name}`,
      veth: `${PREFIX}${k}v${index}h`,
      cgroup: `${basename(this.dir)}-${name}`,
      child: undefined,
      client: new Docker({ socketPath, timeout: 30_000 }),
    };
    this.runtimes.push(runtime);
    this.meta.netns.push(runtime.netns);
    this.meta.veths.push(runtime.veth);
    this.meta.cgroups.push(runtime.cgroup);
    writeMeta(this.dir, this.meta);

    const started = Date.now();
    await this.createNetwork(runtime);
    await this.startDaemon(runtime, engineLabels);
    await importBusybox(runtime.client);
    this.log(
      `${name} (${role}) up at ${runtime.node.address}, pid ${runtime.node.pid}, in ${Date.now() - started} ms`,
    );
    return runtime;
  }

  private async createNetwork(runtime: NodeRuntime): Promise<void> {
    const { netns, veth } = runtime;
    const peer = `${veth.slice(0, -1)}c`;
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer, 'netns', netns]);
    await run('ip', ['link', 'set', veth, 'master', this.meta.bridge, 'up']);
    await run('ip', ['-n', netns, 'link', 'set', peer, 'name', 'eth0']);
    await run('ip', ['-n', netns, 'addr', 'add', `${runtime.node.address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  }

  async startDaemon(runtime: NodeRuntime, engineLabels: Record<string, string>): Promise<void> {
    const { dir, node } = runtime;
    mkdirSync(dir, { recursive: true });
    const logPath = join(dir, 'dockerd.log');
    const pidfile = node.pidFile;
    // An explicit --config-file keeps the host's /etc/docker/daemon.json out, and labels live
    // in it rather than in `--label` flags: dockerd refuses a SIGHUP reload of a key that is
    // set both ways, and the node bootstrap adds its label by reloading.
    const labels = Object.entries(engineLabels).map(([key, value]) => `${key}=${value}`);
    writeFileSync(node.configFile, `${JSON.stringify(labels.length > 0 ? { labels } : {}, null, 2)}\n`);
    const logFd = openSync(logPath, 'a');
    const dockerdArgs = [
      '--host',
      node.dockerHost,
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      pidfile,
      '--bip',
      `172.30.${this.meta.index}.1/24`,
      '--cgroup-parent',
      `/${runtime.cgroup}`,
      '--userland-proxy=false',
      '--config-file',
      node.configFile,
    ];
    // nsenter, not `ip netns exec`: the latter remounts /sys and dockerd then finds no devices cgroup.
    const child = spawn(
      'nsenter',
      [
        `--net=${join(NETNS_DIR, runtime.netns)}`,
        '--',
        'unshare',
        '--uts',
        '--',
        'sh',
        '-c',
        'hostname "$0" && exec dockerd "$@"',
        node.name,
        ...dockerdArgs,
      ],
      {
        stdio: ['ignore', logFd, logFd],
        detached: true,
        // Swarm tasks pull their image unless this is set; we have no registry, the image is local.
        env: { PATH: DAEMON_PATH, HOME: '/root', DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
      },
    );
    closeSync(logFd);
    child.unref();
    runtime.child = child;
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      if (runtime.node.pid === child.pid) runtime.node.pid = 0;
    });
    child.once('error', (err) => {
      exited = `could not start: ${err.message}`;
    });
    runtime.node.pid = child.pid ?? 0;

    const fail = (why: string): Error =>
      new Error(`dockerd of ${node.name} ${why}; last lines of ${logPath}:\n${tail(logPath, 30)}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited !== undefined) throw fail(exited);
      if (Date.now() > deadline) throw fail('did not answer on its socket within 60 s');
      try {
        await runtime.client.ping();
        break;
      } catch {
        await sleep(100);
      }
    }
    const pidFromFile = Number(safeRead(pidfile).trim());
    if (pidFromFile > 0 && pidFromFile !== child.pid) runtime.node.pid = pidFromFile;
  }

  async init(runtime: NodeRuntime): Promise<void> {
    const { address } = runtime.node;
    await runtime.client.swarmInit({
      ListenAddr: `${address}:${SWARM_PORT}`,
      AdvertiseAddr: `${address}:${SWARM_PORT}`,
      DataPathAddr: address,
      DefaultAddrPool: [OVERLAY_POOL],
      SubnetSize: 24,
      Spec: { Orchestration: { TaskHistoryRetentionLimit: 2 } },
    });
    await this.nodeIdOf(runtime);
    this.log(`swarm init on ${runtime.node.name}, node ${runtime.node.nodeId}`);
  }

  async join(runtime: NodeRuntime): Promise<void> {
    const tokens = await this.joinTokens();
    const { address } = runtime.node;
    await runtime.client.swarmJoin({
      ListenAddr: `${address}:${SWARM_PORT}`,
      AdvertiseAddr: `${address}:${SWARM_PORT}`,
      DataPathAddr: address,
      RemoteAddrs: [`${this.manager.address}:${SWARM_PORT}`],
      JoinToken: runtime.node.role === 'manager' ? tokens.manager : tokens.worker,
    });
    await this.nodeIdOf(runtime);
    this.log(`${runtime.node.name} joined as ${runtime.node.role}, node ${runtime.node.nodeId}`);
  }

  async waitForReady(nodes: SwarmNode[]): Promise<void> {
    let listed: NodeInfo[] = [];
    await poll(
      `nodes ${nodes.map((n) => n.name).join(', ')} to be Ready`,
      60_000,
      async () => {
        listed = await this.liveManager().listNodes();
        return nodes.every((node) => {
          const info = listed.find((n) => n.ID === node.nodeId);
          if (info?.Status?.State !== 'ready') return false;
          return node.role === 'worker' || info.ManagerStatus?.Reachability === 'reachable';
        });
      },
      () =>
        `nodes: ${listed.map((n) => `${n.Description?.Hostname}=${n.Status?.State}/${n.ManagerStatus?.Reachability ?? '-'}`).join(', ')}`,
    );
  }

  private async teardownAsync(): Promise<void> {
    this.unregisterExitHook();
    const started = Date.now();
    // Ask nicely first so the daemons undo their own mounts; whatever remains gets SIGKILL below.
    const daemons = this.runtimes.map((r) => r.node.pid).filter(isAlive);
    for (const pid of daemons) kill(pid, 'SIGTERM');
    const deadline = Date.now() + 3_000;
    while (daemons.some(isAlive) && Date.now() < deadline) await sleep(50);
    destroyResources(this.dir, this.meta);
    for (const runtime of this.runtimes) runtime.node.pid = 0;
    this.log(`torn down in ${Date.now() - started} ms`);
  }

  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = Promise.resolve();
    destroyResources(this.dir, this.meta);
    for (const runtime of this.runtimes) runtime.node.pid = 0;
  }
}

// ---------------------------------------------------------------------------------------

async function poll(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  detail?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const parts = [`timed out after ${timeoutMs} ms waiting for ${what}`];
      if (detail) parts.push(detail());
      if (lastError instanceof Error) parts.push(`last error: ${lastError.message}`);
      throw new Error(parts.join('; '), { cause: lastError });
    }
    await sleep(250);
  }
}

function describeTasks(tasks: TaskInfo[]): string {
  if (tasks.length === 0) return 'none';
  return tasks
    .map(
      (t) =>
        `${t.ID.slice(0, 8)}@${t.NodeID?.slice(0, 8) ?? '?'}=${t.Status?.State}${t.Status?.Err ? ` (${t.Status.Err})` : ''}`,
    )
    .join(', ');
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(path: string, lines: number): string {
  return safeRead(path).trimEnd().split('\n').slice(-lines).join('\n');
}
