import { afterAll, beforeAll, describe, it } from 'vitest';
import { routes } from '../../scripts/local/routes';
import {
  type FuzzEnvironment,
  formatReports,
  type RouteReport,
  startFuzzEnvironment,
} from '../fuzz/properties';
import { requireRealHarness } from '../harness';

/**
 * Every HTTP route, fuzzed through its real handler on a real swarm (the properties are in
 * test/fuzz/properties.ts; `npm run fuzz` runs many more cases). FUZZ_RUNS sets the cases per
 * route (default 200), FUZZ_SEED replays a run.
 */
const describeReal = requireRealHarness(describe, ['swarm']);
const runs = Number(process.env.FUZZ_RUNS ?? 200);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

describeReal('fuzzing every HTTP route through its real handler, on a real swarm', () => {
  let env: FuzzEnvironment;
  const reports: RouteReport[] = [];

  beforeAll(async () => {
    env = await startFuzzEnvironment();
  });

  afterAll(async () => {
    // Straight to stdout: vitest keeps console output of passing tests to itself.
    if (reports.length > 0) process.stdout.write(formatReports(reports));
    await env?.close();
  });

  for (const route of routes) {
    it(`${route.path}: never a 5xx, refusals cost nothing downstream, a 200 changes only what its outcomes say`, async () => {
      reports.push(await env.fuzzRoute(route.function, { runs, seed }));
    });
  }
});
