/**
 * `npm run bench`: figures, each beside a baseline measured in the same run, on a private
 * local swarm (local/swarm). Prints one table and writes it to bench-results/latest.txt.
 *
 *  1. warm latency of one alert through the scale-service handler (auth, parse, validate,
 *     one inspect, decide, one versioned update) vs a bare dockerode inspect + update of the
 *     same kind; iterations alternate so drift in the daemon affects both alike;
 *  2. one webhook of 1,000 alerts over 50 services vs 50 bare inspect + update pairs (same
 *     concurrency), with the Docker API calls made per service;
 *  3. each function's bundle (built as serverless.yml builds it) and its cold start — a
 *     fresh Node process loads the bundle and handles one event — vs two baselines bundled
 *     the same way: an empty handler, and an empty handler that builds the SDK clients and
 *     the Docker client the function needs (what it cannot avoid loading), with the issue's
 *     bar (≤ 1.1× that) printed, never enforced.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type Docker from 'dockerode';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { harnessUnavailableReason, startSwarm, type TestSwarm } from '../local/swarm';
import { createDockerClient } from '../shared/adapters/docker';
import { createLogger } from '../shared/adapters/logger';
import { createManagerPool } from '../shared/adapters/manager-pool';
import { createSwarmServices } from '../shared/adapters/swarm';
import { parseSettings } from '../shared/config/settings';
import { webhookEvent } from '../test/support/http-event';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const WARMUP = 20;
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
const TOKEN = 'bench-token-0123456789abcdef';
const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, '.tmp', 'bench-bundles');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}
const ms = (n: number) => n.toFixed(2).padStart(9);
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`.padStart(9);

/** Counts the Docker API requests a client makes, by method and path. */
function countRequests(docker: Docker): Map<string, number> {
  const counts = new Map<string, number>();
  const modem = docker.modem as unknown as {
    dial: (options: { method: string; path: string }, cb: unknown) => unknown;
  };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, cb) => {
    const key = `${options.method} ${options.path.split('?')[0]?.replace(/\/services\/[^/]+/, '/services/:id')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return dial(options, cb);
  };
  return counts;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function main() {
  const reason = harnessUnavailableReason();
  if (reason)
    throw new Error(`the benchmark runs on a private local swarm, which cannot start here: ${reason}`);
  let swarm: TestSwarm | undefined;
  const rows: string[] = [];
  try {
    swarm = await startSwarm({ managers: 1, label: 'bench' });
    const env = { WEBHOOK_TOKENS: TOKEN, DOCKER_HOST: swarm.manager.dockerHost, LOG_LEVEL: 'error' };
    // The handler module validates the environment when loaded, as at a Lambda cold start.
    Object.assign(process.env, env);
    const { makeHandler } = await import('../functions/scale-service/handler');
    const settings = parseSettings(env);
    const docker = swarm.docker();
    const silent = createLogger({ level: 'error', sink: () => {} });
    // The handler's EMF metric lines are made and written as in Lambda; only this terminal is spared them.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: []) =>
      String(chunk).includes('"_aws"') ? true : write(chunk, ...rest)) as typeof process.stdout.write;
    // The clock jumps past the cooldown between calls, so every call really scales.
    let t = Date.now();
    const clock = {
      now: () => {
        t += 600_000;
        return new Date(t);
      },
    };
    const handlerFor = (client: Docker) =>
      makeHandler({
        settings,
        logger: silent,
        tokens: async () => settings.webhookTokens,
        swarm: createSwarmServices(async () => client),
        clock,
      });
    const event = (alerts: Array<Record<string, string>>) => webhookEvent(TOKEN, alerts);
    // Tasks of these services can never be placed: the figures measure the API, not container starts.
    const create = (name: string) =>
      docker.createService({
        Name: name,
        Labels: { 'com.df.scaleMax': '10000', 'com.df.scaleMin': '0' },
        TaskTemplate: {
          ContainerSpec: { Image: 'local/busybox:1', Command: ['sleep', '3600'] },
          Placement: { Constraints: ['node.labels.bench==never'] },
        },
        Mode: { Replicated: { Replicas: 1 } },
      });
    const bareStep = async (name: string) => {
      const service = docker.getService(name);
      const raw = (await service.inspect()) as {
        Version: { Index: number };
        Spec: { Mode: { Replicated: { Replicas: number } } };
      };
      await service.update({
        _query: { version: raw.Version.Index },
        _body: { ...raw.Spec, Mode: { Replicated: { Replicas: raw.Spec.Mode.Replicated.Replicas + 1 } } },
      });
    };

    // 1. Warm latency.
    await create('bench');
    await create('floor');
    const handler = handlerFor(docker);
    const handlerMs: number[] = [];
    const floorMs: number[] = [];
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      let s = performance.now();
      const response = await handler(event([{ service: 'bench', scale: '1' }]));
      if (response.statusCode !== 200 || !response.body.includes('"scaled"'))
        throw new Error(`unexpected: ${response.body}`);
      if (i >= WARMUP) handlerMs.push(performance.now() - s);
      s = performance.now();
      await bareStep('floor');
      if (i >= WARMUP) floorMs.push(performance.now() - s);
    }
    const h = summary(handlerMs);
    const f = summary(floorMs);
    rows.push(
      'what                                              p50 ms    p99 ms   baseline p50   baseline p99   ratio p50   ratio p99',
      `scale-service, one alert (warm) vs bare dockerode inspect+update  ${ms(h.p50)} ${ms(h.p99)}      ${ms(f.p50)}      ${ms(f.p99)}   ${ms(h.p50 / f.p50)}   ${ms(h.p99 / f.p99)}`,
    );

    // 1b. The same through a pool of three whose first endpoint is dead: after the first
    // request the pool goes straight to the one that answered (the warm path is one hop).
    await create('pooled');
    const pool = createManagerPool({
      endpoints: async () => [
        'unix:///nonexistent/dead-manager.sock',
        swarm?.manager.dockerHost ?? '',
        'unix:///nonexistent/other.sock',
      ],
      client: async (endpoint) =>
        endpoint === swarm?.manager.dockerHost
          ? docker
          : createDockerClient({ ...settings.docker, host: endpoint }),
    });
    const pooled = makeHandler({
      settings,
      logger: silent,
      tokens: async () => settings.webhookTokens,
      swarm: createSwarmServices(pool),
      clock,
    });
    const pooledMs: number[] = [];
    const singleMs: number[] = [];
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      let s = performance.now();
      const response = await pooled(event([{ service: 'pooled', scale: '1' }]));
      if (response.statusCode !== 200 || !response.body.includes('"scaled"'))
        throw new Error(`unexpected: ${response.body}`);
      if (i >= WARMUP) pooledMs.push(performance.now() - s);
      s = performance.now();
      await handler(event([{ service: 'bench', scale: '1' }]));
      if (i >= WARMUP) singleMs.push(performance.now() - s);
    }
    const pp = summary(pooledMs);
    const sp = summary(singleMs);
    rows.push(
      `scale-service through a pool of 3, first dead (warm) vs one healthy endpoint  ${ms(pp.p50)} ${ms(pp.p99)}      ${ms(sp.p50)}      ${ms(sp.p99)}   ${ms(pp.p50 / sp.p50)}   ${ms(pp.p99 / sp.p99)}`,
    );

    // 2. Storm: 1,000 alerts over 50 services in one webhook.
    const names = Array.from({ length: 50 }, (_, i) => `storm-${i}`);
    const floors = Array.from({ length: 50 }, (_, i) => `storm-floor-${i}`);
    await mapLimit([...names, ...floors], 4, async (n) => void (await create(n)));
    const stormClient = swarm.docker();
    const counts = countRequests(stormClient);
    const alerts = Array.from({ length: 1_000 }, (_, i) => ({
      alertname: 'Storm',
      service: names[i % 50] ?? '',
      scale: 'up',
    }));
    let s = performance.now();
    const stormResponse = await handlerFor(stormClient)(event(alerts));
    const stormMs = performance.now() - s;
    const stormCalls = new Map(counts);
    const scaled = (JSON.parse(stormResponse.body) as { outcomes: Array<{ kind: string }> }).outcomes.filter(
      (o) => o.kind === 'scaled',
    ).length;
    if (scaled !== 1_000) throw new Error(`storm: ${scaled} of 1000 outcomes scaled`);
    s = performance.now();
    await mapLimit(floors, 4, bareStep);
    const floorStormMs = performance.now() - s;
    const perService = [...stormCalls.entries()].map(([k, v]) => `${k} ${v / 50}`).join(', ');
    rows.push(
      `1,000 alerts over 50 services, one webhook (ms) vs 50 bare inspect+update, 4 at a time  ${ms(stormMs)}      ${ms(floorStormMs)}   ratio ${ms(stormMs / floorStormMs)}`,
      `  Docker API calls per service in the storm: ${perService}`,
    );

    // 3. Bundles and cold starts.
    rows.push('', ...(await coldStartRows(env)));
  } finally {
    await swarm?.teardown();
  }
  const header = `swarm-reflex bench, ${new Date().toISOString()}, node ${process.version}, ${ITERATIONS} warm iterations after ${WARMUP}, ${COLD_RUNS} cold starts each, one-node local swarm`;
  const table = [header, '', ...rows].join('\n');
  process.stdout.write(`${table}\n`);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'latest.txt'), `${table}\n`);
}

type Client = 'ssm' | 'ec2' | 'auto-scaling' | 'lambda' | 'dockerode';

/**
 * The clients each function cannot do its work without, however it builds them (read from
 * functions/<name>/handler.ts and shared/config/runtime.ts): SSM for every function (its
 * secrets; the manager addresses), the AWS clients of its own calls, and dockerode when it
 * talks to the swarm. The clients-only baseline builds exactly these at load.
 */
const CLIENTS: Readonly<Record<string, readonly Client[]>> = {
  'scale-service': ['ssm', 'dockerode'],
  'scale-nodes': ['ssm', 'auto-scaling', 'dockerode'],
  'replace-node': ['ssm', 'ec2', 'dockerode'],
  notify: ['ssm'],
  'sync-join-tokens': ['ssm', 'dockerode'],
  'health-sweep': ['ssm', 'ec2', 'auto-scaling', 'lambda', 'dockerode'],
};

const CLIENT_SOURCE: Readonly<Record<Client, { module: string; load: string; build: string }>> = {
  ssm: {
    module: '@aws-sdk/client-ssm',
    load: "import { SSMClient } from '@aws-sdk/client-ssm';",
    build: 'new SSMClient({})',
  },
  ec2: {
    module: '@aws-sdk/client-ec2',
    load: "import { EC2Client } from '@aws-sdk/client-ec2';",
    build: 'new EC2Client({})',
  },
  'auto-scaling': {
    module: '@aws-sdk/client-auto-scaling',
    load: "import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';",
    build: 'new AutoScalingClient({})',
  },
  lambda: {
    module: '@aws-sdk/client-lambda',
    load: "import { LambdaClient } from '@aws-sdk/client-lambda';",
    build: 'new LambdaClient({})',
  },
  // DOCKER_HOST from the environment, as the functions' own client reads it from the settings.
  dockerode: { module: 'dockerode', load: "import Docker from 'dockerode';", build: 'new Docker()' },
};

/** An empty handler that builds these clients at load, once per container, as the functions do. */
function clientsOnlyEntry(clients: readonly Client[]): string {
  return [
    ...clients.map((c) => CLIENT_SOURCE[c].load),
    `const clients = [${clients.map((c) => CLIENT_SOURCE[c].build).join(', ')}];`,
    'export const handler = async () => ({ statusCode: 200, body: String(clients.length) });',
    '',
  ].join('\n');
}

/** Bundles an entry with the esbuild options serverless.yml gives the functions. */
async function bundle(name: string, entry: string) {
  const esbuildConfig = (
    parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as {
      custom: { esbuild: Record<string, unknown> };
    }
  ).custom.esbuild;
  const alias = Object.fromEntries(
    Object.entries((esbuildConfig.alias ?? {}) as Record<string, string>).map(([k, v]) => [
      k,
      resolve(ROOT, v),
    ]),
  );
  const outfile = join(OUT, name, 'handler.js');
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: esbuildConfig.minify === true,
    platform: 'node',
    target: String(esbuildConfig.target ?? 'node22'),
    format: 'cjs',
    external: (esbuildConfig.external as string[]) ?? [],
    loader: { '.node': 'empty' },
    alias,
    logLevel: 'error',
    metafile: true,
  });
  const code = readFileSync(outfile);
  // What ended up in the output (a module esbuild read but tree-shook away has 0 bytes there).
  const inputs = Object.entries(result.metafile.outputs[relative(process.cwd(), outfile)]?.inputs ?? {})
    .filter(([, i]) => i.bytesInOutput > 0)
    .map(([path]) => path);
  /** Which of the clients' modules ended up in the bundle. */
  const bundled = (Object.keys(CLIENT_SOURCE) as Client[]).filter((c) =>
    inputs.some((i) => i.includes(`node_modules/${CLIENT_SOURCE[c].module}/`)),
  );
  return { outfile, size: code.length, gzip: gzipSync(code, { level: 9 }).length, bundled };
}

/** One cold start: a fresh Node process loads the bundle and handles one event. */
function coldStart(outfile: string, eventJson: string, env: Record<string, string | undefined>) {
  const runner = `const {performance}=require('node:perf_hooks');const t0=performance.now();let m;try{m=require(${JSON.stringify(outfile)})}catch(e){console.error('BENCH_RESULT '+JSON.stringify({error:String(e)}));process.exit(0)}Promise.resolve().then(()=>m.handler(${eventJson})).catch(()=>undefined).then(()=>{console.error('BENCH_RESULT '+JSON.stringify({ms:performance.now()-t0}))})`;
  const started = performance.now();
  const run = spawnSync(process.execPath, ['-e', runner], { encoding: 'utf8', env });
  const line = run.stderr.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  const result = line
    ? (JSON.parse(line.slice(13)) as { ms?: number; error?: string })
    : { error: run.stderr.slice(0, 200) };
  if (result.ms === undefined) throw new Error(`cold start of ${outfile} failed: ${result.error}`);
  return { inProcess: result.ms, process: performance.now() - started };
}

/** COLD_RUNS cold starts of each bundle, taken in turn so that drift affects them alike; p50s. */
function coldStarts(
  runs: ReadonlyArray<{ outfile: string; event: string; env: Record<string, string | undefined> }>,
) {
  const samples = runs.map(() => ({ inProcess: [] as number[], process: [] as number[] }));
  for (let i = 0; i < COLD_RUNS; i++) {
    runs.forEach((r, k) => {
      const sample = coldStart(r.outfile, r.event, r.env);
      samples[k]?.inProcess.push(sample.inProcess);
      samples[k]?.process.push(sample.process);
    });
  }
  return samples.map((s) => ({ inProcess: summary(s.inProcess).p50, process: summary(s.process).p50 }));
}

const webhook = (labels: Record<string, string>) =>
  JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels }] });
// One event each that needs no AWS (nothing here reaches AWS): what it exercises is said in the table.
const COLD_EVENTS: Record<string, { event: string; what: string; env?: Record<string, string> }> = {
  'scale-service': { event: webhook({ service: 'bench', scale: '1' }), what: 'one inspect + update' },
  'scale-nodes': { event: webhook({ type: 'node', scale: 'up' }), what: 'no group: parse + decide' },
  'replace-node': { event: JSON.stringify({ node: 'no-such-node' }), what: 'one node list' },
  notify: { event: webhook({ alertname: 'Bench' }), what: 'no chat target: render' },
  'sync-join-tokens': {
    event: JSON.stringify({ bogus: true }),
    what: 'load + validation only',
    env: { SETTINGS_PREFIX: '/bench' },
  },
  'health-sweep': { event: JSON.stringify({ dryRun: true }), what: 'one read of the swarm, dry run' },
};

/** The cold-start bar of the issue: a function starts at most this much slower than its clients-only baseline. */
const CLIENTS_ONLY_BAR = 1.1;

/**
 * Each function's bundle and cold start, beside two baselines bundled the same way: an empty
 * handler, and an empty handler that builds the clients the function needs (CLIENTS).
 */
async function coldStartRows(env: Record<string, string>): Promise<string[]> {
  const rows = [
    'cold start: a fresh Node process loads the bundle and handles one event; "load+event" is timed inside the process, "process" from spawn to exit (p50s)',
    `"clients-only": an empty handler that builds at load the clients the function needs (CLIENTS); bar: process ≤ ${CLIENTS_ONLY_BAR.toFixed(2)}× clients-only (reported, never enforced)`,
    '  (a function that loads a client only on first use, for an event here that does not use it, can come in under 1×)',
    'function           bundle     gzip   load+event    process | empty: load+event  process    ratio | clients-only:  bundle  load+event  process    ratio  bar | clients; event',
  ];
  const coldEnv = {
    PATH: process.env.PATH,
    ...env,
    SETTINGS_PREFIX: '',
    CLOUD: 'none',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  rmSync(OUT, { recursive: true, force: true });
  const entry = (name: string, source: string) => {
    mkdirSync(join(OUT, name), { recursive: true });
    writeFileSync(join(OUT, name, 'entry.ts'), source);
    return join(OUT, name, 'entry.ts');
  };
  const empty = await bundle(
    'empty',
    entry('empty', 'export const handler = async () => ({ statusCode: 200, body: "{}" });\n'),
  );
  const [emptyMs = { inProcess: Number.NaN, process: Number.NaN }] = coldStarts([
    { outfile: empty.outfile, event: '{}', env: coldEnv },
  ]);
  const x = (ratio: number) => `${ratio.toFixed(2)}×`.padStart(8);
  for (const fn of readdirFunctions()) {
    const spec = COLD_EVENTS[fn] ?? { event: '{}', what: 'load + empty event' };
    const b = await bundle(fn, join(ROOT, 'functions', fn, 'handler.ts'));
    const row = `${fn.padEnd(17)}${kib(b.size)}${kib(b.gzip)}`;
    const clients = CLIENTS[fn];
    const runs = [{ outfile: b.outfile, event: spec.event, env: { ...coldEnv, ...spec.env } }];
    if (!clients) {
      const [cold] = coldStarts(runs);
      rows.push(
        `${row} ${ms(cold?.inProcess ?? Number.NaN)} ${ms(cold?.process ?? Number.NaN)} | ${ms(emptyMs.inProcess)} ${ms(emptyMs.process)} ${x((cold?.process ?? Number.NaN) / emptyMs.process)} | no clients-only baseline: add ${fn} to CLIENTS in scripts/bench.ts; ${spec.what}`,
      );
      continue;
    }
    const base = await bundle(`${fn}.clients-only`, entry(`${fn}.clients-only`, clientsOnlyEntry(clients)));
    const [cold, only] = coldStarts([...runs, { outfile: base.outfile, event: '{}', env: coldEnv }]);
    if (!cold || !only) throw new Error(`no cold-start figures for ${fn}`);
    const ratio = cold.process / only.process;
    // The bundle tells whether the list above still matches the function.
    const unneeded = b.bundled.filter((c) => !clients.includes(c));
    const missing = clients.filter((c) => !b.bundled.includes(c));
    const drift = [
      ...(unneeded.length > 0 ? [`also bundles ${unneeded.join(', ')}`] : []),
      ...(missing.length > 0 ? [`does not bundle ${missing.join(', ')}`] : []),
    ];
    rows.push(
      `${row} ${ms(cold.inProcess)} ${ms(cold.process)} | ${ms(emptyMs.inProcess)} ${ms(emptyMs.process)} ${x(cold.process / emptyMs.process)} | ${kib(base.size)} ${ms(only.inProcess)} ${ms(only.process)} ${x(ratio)} ${ratio <= CLIENTS_ONLY_BAR ? ' yes' : '  NO'} | ${clients.join(', ')}${drift.length > 0 ? ` (${drift.join('; ')})` : ''}; ${spec.what}`,
    );
  }
  rows.push(
    `${'empty handler'.padEnd(17)}${kib(empty.size)}${kib(empty.gzip)} ${ms(emptyMs.inProcess)} ${ms(emptyMs.process)}`,
  );
  return rows;
}

function readdirFunctions(): string[] {
  const serverless = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as {
    functions: Record<string, unknown>;
  };
  return Object.keys(serverless.functions);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  process.exit(1);
});
