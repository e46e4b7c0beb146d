// @ts-check
/**
 * Mutation testing (`npm run mutate`): Stryker changes the decision modules one small edit at
 * a time and runs the UNIT tests against each change; a change no test notices is a rule no
 * test pins. Never the integration project: it starts real swarms.
 *
 * String-literal mutants are left out: they change messages and details, not decisions, and
 * the figures we keep are "mutants other than string literals, killed / valid".
 */

/**
 * Files that hold a safety guard (quorum, storm, grace, rate limit, cooldown, bounds, opt-in,
 * cluster tag, target matching, a person's opt-out, a leaving manager's demotion): `npm run
 * mutate -- --guards` mutates these, and so does CI (failing when any one of them is under 90 %).
 */
export const guardModules = [
  'functions/scale-service/decide.ts',
  'functions/scale-service/scale-service.ts',
  'functions/scale-nodes/decide-node-scale.ts',
  'functions/scale-nodes/node-scale-claim.ts',
  'functions/replace-node/rules.ts',
  'functions/replace-node/target.ts',
  'functions/replace-node/request.ts',
  'functions/replace-node/plan.ts',
  'functions/replace-node/down-since.ts',
  'functions/replace-node/resume.ts',
  'functions/replace-node/ghost.ts',
  'functions/health-sweep/assessments.ts',
  'functions/health-sweep/down-nodes.ts',
  'functions/node-lifecycle/decide-leaving.ts',
  'functions/node-lifecycle/reconcile-rules.ts',
  'shared/domain/opt-out.ts',
  'shared/domain/quorum.ts',
  'shared/domain/instance-nodes.ts',
  'shared/domain/scale-in.ts',
  'shared/domain/swarm-ledger.ts',
];

/**
 * Every function's decisions (each function's modules but its handler: the domain, in the
 * layout of DESIGN.md) and the shared domain rules. Globs, so that a module split in two or a
 * new function is measured without a change here.
 */
export const decisionModules = ['functions/*/*.ts', '!functions/*/handler.ts', 'shared/domain/*.ts'];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // The unit project only (the integration tests start real swarms): a vitest configuration
  // that has no other project. Not Stryker's `testFiles`: with it, Stryker 10 activates static
  // mutants (module-level constants such as a regular expression) only after the module has
  // loaded, so that every one of them survives whatever the tests check.
  vitest: { configFile: 'scripts/mutate-vitest.config.ts', related: true },
  // `npm run mutate -- <files…>` (scripts/mutate.ts) narrows this with --mutate.
  mutate: decisionModules,
  mutator: { excludedMutations: ['StringLiteral'] },
  coverageAnalysis: 'perTest',
  // Two cores, shared with the real-swarm suites.
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['bench-results', '.serverless', '.esbuild', 'dist', 'coverage', '.tmp', 'reports'],
};
