/**
 * `npm run fuzz` (tsx scripts/fuzz.ts): the fuzzing properties of test/integration/fuzz.test.ts
 * with many more cases (FUZZ_RUNS per route, default 2000; FUZZ_SEED replays a run), on a
 * private throwaway swarm started here. Prints what was generated and answered, per route;
 * exits 1 with fast-check's counterexample when a property fails.
 */

import type { RouteReport } from '../test/fuzz/properties';

// The handler modules validate the environment when loaded (as at a cold start); the fuzzed
// handlers get their own settings, these only have to be valid.
process.env.WEBHOOK_TOKENS ||= 'fuzz-script-default-token-0000';

const { realHarnessUnavailableReason } = await import('../test/harness');
const { formatReports, startFuzzEnvironment } = await import('../test/fuzz/properties');

const reason = realHarnessUnavailableReason(['swarm']);
if (reason !== undefined) {
  process.stderr.write(`npm run fuzz needs a real swarm here: ${reason}\n`);
  process.exit(1);
}

const runs = Number(process.env.FUZZ_RUNS ?? 2_000);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('FUZZ_RUNS must be a whole number of cases per route\n');
  process.exit(1);
}

process.stdout.write(`starting a one-manager, one-worker swarm; ${runs} cases per route\n`);
const env = await startFuzzEnvironment();
const reports: RouteReport[] = [];
let failed = false;
try {
  for (const fn of env.routes) {
    process.stdout.write(`fuzzing ${fn}…\n`);
    reports.push(await env.fuzzRoute(fn, { runs, seed }));
  }
} catch (error) {
  failed = true;
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  await env.close();
}
process.stdout.write(formatReports(reports));
process.exit(failed ? 1 : 0);
