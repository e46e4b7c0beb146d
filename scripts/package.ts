/**
 * `npm run package`: `sls package` offline (no AWS credentials or calls needed), then each
 * function's zipped and unzipped size.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const stage = process.argv[2] ?? 'dev';
const run = spawnSync('npx', ['sls', 'package', '--stage', stage], {
  stdio: 'inherit',
  env: {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    AWS_REGION: process.env.AWS_REGION ?? 'eu-west-1',
  },
});
if (run.status !== 0) process.exit(run.status ?? 1);

const dir = '.serverless';
const rows = readdirSync(dir)
  .filter((f) => f.endsWith('.zip'))
  .map((f) => {
    const listing = spawnSync('unzip', ['-l', join(dir, f)], { encoding: 'utf8' }).stdout ?? '';
    const total = listing.trim().split('\n').at(-1)?.trim().split(/\s+/)[0] ?? '?';
    return {
      function: f.replace(/\.zip$/, ''),
      zipped: statSync(join(dir, f)).size,
      unzipped: Number(total),
    };
  });
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
process.stdout.write('\nfunction                 zipped        unzipped\n');
for (const r of rows) {
  process.stdout.write(
    `${r.function.padEnd(24)} ${kib(r.zipped).padStart(12)}  ${kib(r.unzipped).padStart(12)}\n`,
  );
}
