/**
 * The vitest configuration of `npm run mutate`: the unit project of vitest.config.ts and
 * nothing else (the integration project starts real swarms, the iam project reads what they
 * recorded). Stryker's own `testFiles` would select the unit tests too, but see
 * stryker.config.mjs for why it is not used.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import base from '../vitest.config';

const unit = base.test?.projects?.find(
  (p): p is TestProjectInlineConfiguration => typeof p === 'object' && 'test' in p && p.test?.name === 'unit',
);
if (!unit) throw new Error('vitest.config.ts has no project named unit');

export default defineConfig({
  // This file lives in scripts/: the project's paths are relative to the repository.
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, projects: [unit] },
});
