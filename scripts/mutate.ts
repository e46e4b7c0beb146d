/**
 * `npm run mutate`: mutation testing of the decision modules under the unit tests (Stryker,
 * configured in stryker.config.mjs), then the score of each file and of each function.
 *
 *   npm run mutate                        every decision module
 *   npm run mutate -- --guards            the files that hold a safety guard (what CI runs)
 *   npm run mutate -- <file.ts> [<file.ts>…]  only these
 *
 *   --min-score <n>                       fail (exit 1) when the score of any one file is below n
 *
 * Other arguments go to `stryker run` as they are (`--concurrency 1`, `--incremental`).
 * Reports: reports/mutation/index.html and mutation.json. A score here is
 * (killed + timed out) / (killed + timed out + survived + no coverage), string literals left out.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const reportFile = join(repo, 'reports', 'mutation', 'mutation.json');

interface Report {
  files: Record<string, { mutants: Array<{ status: string }> }>;
}

interface Tally {
  detected: number;
  survived: number;
  noCoverage: number;
  errors: number;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const minAt = args.indexOf('--min-score');
  const minScore = minAt < 0 ? undefined : Number(args[minAt + 1]);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 100)) {
    process.stderr.write('--min-score wants a number from 0 to 100\n');
    return 2;
  }
  if (minAt >= 0) args.splice(minAt, 2);
  const files = args.filter((a) => a.endsWith('.ts'));
  const missing = files.filter((f) => !existsSync(join(repo, f)));
  if (missing.length > 0) {
    process.stderr.write(`no such file: ${missing.join(', ')}\n`);
    return 2;
  }
  const guards = args.includes('--guards');
  const passOn = args.filter((a) => !a.endsWith('.ts') && a !== '--guards');
  const config: { guardModules: string[] } = await import(join(repo, 'stryker.config.mjs'));
  const mutate = files.length > 0 ? files : guards ? config.guardModules : [];
  const started = Date.now();
  const run = spawnSync(
    join(repo, 'node_modules', '.bin', 'stryker'),
    ['run', ...(mutate.length > 0 ? ['--mutate', mutate.join(',')] : []), ...passOn],
    { cwd: repo, stdio: 'inherit' },
  );
  const seconds = Math.round((Date.now() - started) / 1000);
  if (run.status !== 0) return run.status ?? 1;
  const scores = printScores(JSON.parse(readFileSync(reportFile, 'utf8')) as Report);
  process.stdout.write(
    `\n${seconds} s; report: ${relative(repo, reportFile).replace(/json$/, 'json, index.html')}\n`,
  );
  // Each file on its own: a small file whose guards lost their tests must not hide in a big total.
  const below = minScore === undefined ? [] : scores.filter((f) => f.score < minScore);
  if (below.length > 0) {
    const list = below.map((f) => `${f.file} ${f.score.toFixed(1)} %`).join(', ');
    process.stderr.write(`mutation score below --min-score ${minScore} %: ${list}\n`);
    return 1;
  }
  return 0;
}

function tally(statuses: readonly string[]): Tally {
  const count = (...s: string[]) => statuses.filter((x) => s.includes(x)).length;
  return {
    detected: count('Killed', 'Timeout'),
    survived: count('Survived'),
    noCoverage: count('NoCoverage'),
    errors: count('CompileError', 'RuntimeError'),
  };
}

const percent = (t: Tally) => {
  const valid = t.detected + t.survived + t.noCoverage;
  return valid === 0 ? 100 : (100 * t.detected) / valid;
};
const score = (t: Tally) =>
  t.detected + t.survived + t.noCoverage === 0 ? '—' : `${percent(t).toFixed(1)} %`;

/** Prints the score of each file and of each function; returns each file's score. */
function printScores(report: Report): Array<{ file: string; score: number }> {
  const rows = Object.entries(report.files)
    .map(([file, { mutants }]) => ({ file, statuses: mutants.map((m) => m.status) }))
    .sort((a, b) => a.file.localeCompare(b.file));
  // A function's figure: all its files together; shared/domain's files count one by one.
  const groups = new Map<string, string[]>();
  for (const r of rows) {
    const group = /^functions\/([^/]+)\//.exec(r.file)?.[1] ?? r.file;
    groups.set(group, [...(groups.get(group) ?? []), ...r.statuses]);
  }
  const line = (name: string, t: Tally) =>
    `${name.padEnd(50)} ${score(t).padStart(7)} ${`${t.detected}/${t.detected + t.survived + t.noCoverage}`.padStart(9)} ${String(t.survived).padStart(8)} ${String(t.noCoverage).padStart(7)}`;
  const head = `${'file'.padEnd(50)} ${'score'.padStart(7)} ${'det/valid'.padStart(9)} ${'survived'.padStart(8)} ${'no cov'.padStart(7)}`;
  process.stdout.write(`\nMutation score per file (string literals excluded)\n${head}\n`);
  for (const r of rows) process.stdout.write(`${line(r.file, tally(r.statuses))}\n`);
  process.stdout.write(`\nPer function\n${head.replace('file', 'function')}\n`);
  for (const [name, statuses] of groups) process.stdout.write(`${line(name, tally(statuses))}\n`);
  const all = tally(rows.flatMap((r) => r.statuses));
  process.stdout.write(`${line('all', all)}\n`);
  if (all.errors > 0)
    process.stdout.write(`(${all.errors} mutants did not compile or run: left out of the scores)\n`);
  return rows.map((r) => ({ file: r.file, score: percent(tally(r.statuses)) }));
}

process.exitCode = await main();
