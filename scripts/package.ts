/**
 * `npm run package [-- <stage>] [--param=<name>=<value> ...]`: `sls package` offline (no AWS
 * credentials or calls needed), then each function's zipped and unzipped size, and how the
 * HTTP functions are reached. `--param=httpExposure=url` (or `both`) packages them with
 * Lambda Function URLs instead of (or beside) the HTTP API routes; see serverless.yml.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';

export const HTTP_EXPOSURES = ['api', 'url', 'both'] as const;
export type HttpExposure = (typeof HTTP_EXPOSURES)[number];

const ROOT = resolve(import.meta.dirname, '..');

export interface PackageOptions {
  stage: string;
  /** serverless.yml params, `name=value`, passed to sls as `--param`. */
  params?: readonly string[];
  /** Where the artifacts and templates go (sls `--package`); `.serverless` when unset. */
  dir?: string;
  /** Let sls print to this terminal (the npm script) or keep its output (tests). */
  output?: 'inherit' | 'capture';
}

/** Runs `sls package`; rejects an httpExposure that serverless.yml does not know before sls starts. */
export function packageService(options: PackageOptions): { ok: boolean; output: string } {
  const params = options.params ?? [];
  for (const param of params) {
    const [name, value] = param.split(/=(.*)/s);
    if (name === 'httpExposure' && !HTTP_EXPOSURES.includes(value as HttpExposure)) {
      return { ok: false, output: `httpExposure must be ${HTTP_EXPOSURES.join(', ')}, not ${value}\n` };
    }
  }
  const args = ['sls', 'package', '--stage', options.stage, ...params.map((p) => `--param=${p}`)];
  if (options.dir) args.push('--package', options.dir);
  const run = spawnSync('npx', args, {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: options.output === 'inherit' ? 'inherit' : 'pipe',
    env: {
      ...process.env,
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      AWS_REGION: process.env.AWS_REGION ?? 'eu-west-1',
    },
  });
  return { ok: run.status === 0, output: `${run.stdout ?? ''}${run.stderr ?? ''}` };
}

/** `<stage> --param=a=b --param c=d` → the stage and the params. */
export function parseArgs(argv: readonly string[]): { stage: string; params: string[] } {
  const params: string[] = [];
  let stage: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.startsWith('--param=')) params.push(arg.slice('--param='.length));
    else if (arg === '--param' && argv[i + 1] !== undefined) params.push(argv[++i] ?? '');
    else if (arg.startsWith('-'))
      throw new Error(`unknown option ${arg}: expected <stage> [--param=name=value]`);
    else if (stage === undefined) stage = arg;
    else throw new Error(`one stage only (got ${stage} and ${arg})`);
  }
  return { stage: stage ?? 'dev', params };
}

const template = z.object({ Resources: z.record(z.string(), z.object({ Type: z.string() })) });

/** How the template lets callers reach the HTTP functions: routes and Function URLs. */
function exposureOf(text: string): string {
  const types = Object.values(template.parse(JSON.parse(text)).Resources).map((r) => r.Type);
  const routes = types.filter((t) => t === 'AWS::ApiGatewayV2::Route').length;
  const urls = types.filter((t) => t === 'AWS::Lambda::Url').length;
  return `HTTP API routes: ${routes}, Function URLs: ${urls}`;
}

function main(): void {
  let args: { stage: string; params: string[] };
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`npm run package: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const run = packageService({ stage: args.stage, params: args.params, output: 'inherit' });
  if (!run.ok) {
    process.stderr.write(`npm run package failed${run.output ? `: ${run.output}` : '\n'}`);
    process.exit(1);
  }
  const dir = join(ROOT, '.serverless');
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
  const exposure = args.params.find((p) => p.startsWith('httpExposure='))?.split('=')[1] ?? 'api';
  const text = readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8');
  process.stdout.write(`\nhttpExposure=${exposure}: ${exposureOf(text)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
