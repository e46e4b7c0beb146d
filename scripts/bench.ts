/**
 * `npm run bench`: warm latency of one alert through the scale-service handler (auth,
 * parse, validate, one inspect, decide, one versioned update) against a real local swarm,
 * beside the floor measured in the same run: a bare dockerode inspect + update of the same
 * service making the same change. Iterations alternate between the two so that drift in
 * the daemon affects both alike. Prints a table and writes it to bench-results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type Docker from 'dockerode';
import { createLogger } from '../shared/logger';
import { parseSettings } from '../shared/settings';
import { createSwarmServices } from '../shared/swarm';
import { harnessUnavailableReason, startSwarm, type TestSwarm } from '../test/harness/swarm';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const WARMUP = 20;
const TOKEN = 'bench-token-0123456789abcdef';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

async function main() {
  const reason = harnessUnavailableReason();
  if (reason)
    throw new Error(`the benchmark runs on a private local swarm, which cannot start here: ${reason}`);
  let swarm: TestSwarm | undefined;
  try {
    swarm = await startSwarm({ managers: 1, label: 'bench' });
    const docker: Docker = swarm.docker();
    await swarm.createService({
      name: 'bench',
      replicas: 1,
      labels: { 'com.df.scaleMax': '2', 'com.df.scaleMin': '1' },
    });
    await swarm.createService({
      name: 'floor',
      replicas: 1,
      labels: { 'com.df.scaleMax': '2', 'com.df.scaleMin': '1' },
    });

    const env = { WEBHOOK_TOKENS: TOKEN, DOCKER_HOST: swarm.manager.dockerHost };
    // The handler module validates the environment when loaded, as at a Lambda cold start.
    Object.assign(process.env, env);
    const { makeHandler } = await import('../functions/scale-service/handler');
    const settings = parseSettings(env);
    // The clock jumps past the cooldown between calls, so every call really scales.
    let t = Date.now();
    const handler = makeHandler({
      settings,
      logger: createLogger({ level: 'error', sink: () => {} }),
      tokens: async () => settings.webhookTokens,
      swarm: createSwarmServices(async () => docker),
      clock: {
        now: () => {
          t += 600_000;
          return new Date(t);
        },
      },
    });
    const eventFor = (scale: 'up' | 'down') => ({
      version: '2.0',
      headers: { authorization: `Bearer ${TOKEN}` },
      requestContext: { http: { method: 'POST' } },
      body: JSON.stringify({
        version: '4',
        status: 'firing',
        alerts: [
          { status: 'firing', labels: { alertname: 'Bench', service: 'bench', scale }, fingerprint: 'b1' },
        ],
      }),
    });

    let floorReplicas = 1;
    const floorOnce = async () => {
      const service = docker.getService('floor');
      const raw = (await service.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      floorReplicas = floorReplicas === 1 ? 2 : 1;
      await service.update({
        _query: { version: raw.Version.Index },
        _body: { ...raw.Spec, Mode: { Replicated: { Replicas: floorReplicas } } },
      });
    };
    let up = true;
    const handlerOnce = async () => {
      const response = await handler(eventFor(up ? 'up' : 'down'));
      up = !up;
      if (response.statusCode !== 200 || !response.body.includes('"scaled"'))
        throw new Error(`unexpected: ${response.body}`);
    };

    const handlerMs: number[] = [];
    const floorMs: number[] = [];
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      let s = performance.now();
      await handlerOnce();
      if (i >= WARMUP) handlerMs.push(performance.now() - s);
      s = performance.now();
      await floorOnce();
      if (i >= WARMUP) floorMs.push(performance.now() - s);
    }

    const h = summary(handlerMs);
    const f = summary(floorMs);
    const f2 = (n: number) => n.toFixed(2).padStart(8);
    const lines = [
      `swarm-reflex bench, ${new Date().toISOString()}, node ${process.version}, ${ITERATIONS} iterations after ${WARMUP} warm-up, one-node local swarm`,
      '',
      'what                                         p50 ms   p99 ms  mean ms',
      `scale-service handler, one alert           ${f2(h.p50)} ${f2(h.p99)} ${f2(h.mean)}`,
      `floor: bare dockerode inspect + update     ${f2(f.p50)} ${f2(f.p99)} ${f2(f.mean)}`,
      `ratio handler / floor                      ${f2(h.p50 / f.p50)} ${f2(h.p99 / f.p99)} ${f2(h.mean / f.mean)}`,
    ];
    const table = lines.join('\n');
    process.stdout.write(`${table}\n`);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/latest.txt', `${table}\n`);
  } finally {
    await swarm?.teardown();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  process.exit(1);
});
