import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEDGER_DIR } from './ledger-dir';

/**
 * Every AWS call the functions make in their tests, written down as the IAM request it
 * would be (action, resource, condition context) so that the least-privilege test can
 * check each function's role against what the function really calls — recorded from the
 * SDK mocks, never listed by hand. Resources are kept abstract (which parameter under the
 * settings prefix, which kind of instance) and made concrete for the packaged stage later.
 */
export type LedgerResource =
  | { kind: 'any' }
  /** A parameter path relative to SETTINGS_PREFIX, such as `secrets` or `swarm/join-token-worker`. */
  | { kind: 'ssm-parameter'; relative: string }
  | { kind: 'instance'; clusterTagged: boolean }
  | { kind: 'worker-group' }
  | { kind: 'function'; name: string };

export interface LedgerEntry {
  action: string;
  resource: LedgerResource;
  /** Condition keys of the request, e.g. aws:TagKeys for CreateTags. */
  context?: Record<string, string | string[]>;
}

// vitest throws when imported outside a test run, and scripts (npm run fuzz) use the fakes
// too: there, no test speaks for a function and nothing is recorded.
const currentTestPath: () => string | undefined = await import('vitest').then(
  ({ expect }) =>
    () =>
      expect.getState().testPath,
  () => () => undefined,
);

const FUNCTIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'functions');

/**
 * Which function a test speaks for: test/(unit|integration)/functions/<name>/…, or
 * test/integration/<name>[-…].test.ts; tests of shared/ speak for every function ('*'),
 * since every function's runtime uses shared/.
 */
export function functionOfTest(testPath: string): string | undefined {
  const rel = relative(join(FUNCTIONS_DIR, '..'), testPath).split('\\').join('/');
  const inFunctions = /^test\/(?:unit|integration)\/functions\/([a-z0-9-]+)\//.exec(rel);
  if (inFunctions) return inFunctions[1];
  if (/^test\/unit\/shared\//.test(rel)) return '*';
  const integration = /^test\/integration\/([a-z0-9-]+)\.test\.ts$/.exec(rel);
  if (!integration?.[1]) return undefined;
  for (const name of [
    'scale-service',
    'scale-nodes',
    'replace-node',
    'sync-join-tokens',
    'health-sweep',
    'notify',
    'node-lifecycle',
  ]) {
    if (integration[1] === name || integration[1].startsWith(`${name}-`)) return name;
  }
  return undefined;
}

let speaksFor: string | undefined;

/**
 * Runs `work` with its AWS calls recorded for `fn` instead of the test's own function: for a
 * test that sets the scene with another function (replace-node's test runs sync-join-tokens
 * to put the join tokens in SSM).
 */
export async function asFunction<T>(fn: string, work: () => Promise<T>): Promise<T> {
  speaksFor = fn;
  try {
    return await work();
  } finally {
    speaksFor = undefined;
  }
}

export function recordAwsCall(entry: LedgerEntry): void {
  const testPath = currentTestPath();
  const fn = speaksFor ?? (testPath ? functionOfTest(testPath) : undefined);
  if (!fn) return;
  mkdirSync(LEDGER_DIR, { recursive: true });
  appendFileSync(join(LEDGER_DIR, `${fn === '*' ? '_shared' : fn}.jsonl`), `${JSON.stringify(entry)}\n`);
}

/** The SSM parameter path relative to the settings prefix (the part from /secrets or /swarm on). */
export function relativeParameter(name: string): string {
  const m = /\/((?:secrets|swarm|pause)(?:\/.*)?)$/.exec(name);
  return m?.[1] ?? name;
}
