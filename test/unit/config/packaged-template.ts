import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HttpExposure, packageService } from '../../../scripts/package';

/**
 * The CloudFormation template `sls package` generates for stage `ci`, one per `httpExposure`
 * (and further params, e.g. `vpcEndpoints=true`), kept in .tmp/package/<exposure>[+<params>]
 * and packaged again only when what it depends on changed.
 * Several test files read it (the template tests here, the least-privilege proof): one packages
 * while the others wait for the lock, then find it fresh. One at a time also because
 * serverless-esbuild works in the project's one .esbuild folder.
 */
export const PACKAGE_STAGE = 'ci';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PACKAGES = join(ROOT, '.tmp', 'package');
const LOCK = join(PACKAGES, '.lock');
const LOCK_WAIT_MS = 300_000;

/** One packaging: an httpExposure and the other serverless.yml params (`name=value`). */
interface Variant {
  exposure: HttpExposure;
  params: readonly string[];
}

const dirOf = ({ exposure, params }: Variant) => join(PACKAGES, [exposure, ...params].join('+'));

function templateFileOf(variant: Variant): string {
  return join(dirOf(variant), 'cloudformation-template-update-stack.json');
}

/**
 * What the template depends on: serverless.yml and the osls version (package-lock.json), by
 * content (a checkout or a copy may give an older file a newer time, and the other way round).
 */
function inputsDigest({ exposure, params }: Variant): string {
  const hash = createHash('sha256').update([exposure, ...params].join('\n'));
  for (const f of ['serverless.yml', 'package-lock.json']) hash.update(readFileSync(join(ROOT, f)));
  return hash.digest('hex');
}

const digestFileOf = (variant: Variant) => join(dirOf(variant), 'inputs.sha256');

function fresh(variant: Variant): boolean {
  const digest = digestFileOf(variant);
  return (
    existsSync(templateFileOf(variant)) &&
    existsSync(digest) &&
    readFileSync(digest, 'utf8') === inputsDigest(variant)
  );
}

/** A lock held by a process that is gone (a run that was killed) is taken over. */
function holderGone(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    // Taken a moment ago and its pid not written yet (or released since), or left half-made long ago.
    try {
      return Date.now() - statSync(LOCK).mtimeMs > 10_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function withLock<T>(work: () => T): Promise<T> {
  mkdirSync(PACKAGES, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (holderGone()) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK} held for ${LOCK_WAIT_MS / 1000} s`);
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * The packaged template of one exposure and further params (`name=value`; parsed JSON),
 * packaging it first when stale.
 */
export async function packagedTemplate(
  exposure: HttpExposure,
  params: readonly string[] = [],
): Promise<unknown> {
  const variant = { exposure, params };
  const file = templateFileOf(variant);
  await withLock(() => {
    if (fresh(variant)) return;
    const digest = inputsDigest(variant);
    rmSync(digestFileOf(variant), { force: true });
    const all = [`httpExposure=${exposure}`, ...params];
    const run = packageService({ stage: PACKAGE_STAGE, params: all, dir: dirOf(variant) });
    if (!run.ok) throw new Error(`sls package (${all.join(' ')}) failed: ${run.output}`);
    writeFileSync(digestFileOf(variant), digest);
  });
  return JSON.parse(readFileSync(file, 'utf8'));
}
