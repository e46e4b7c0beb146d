import { defineConfig } from 'vitest/config';

// Integration tests start real dockerd swarms and an Alertmanager: they run one file at a
// time (2 cores) and get long timeouts; unit tests run in parallel with the defaults.
// Importing a handler module builds its default dependencies (settings validated at cold
// start, as in Lambda); tests hand their own dependencies to makeHandler, but the module
// still needs a valid environment to load. Nothing in the tests uses these values.
const env = {
  WEBHOOK_TOKENS: 'unit-test-default-token-0000',
  DOCKER_HOST: 'unix:///nonexistent/docker.sock',
};

export default defineConfig({
  test: {
    env,
    // Handlers log JSON lines; show them only for tests that fail.
    silent: 'passed-only',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Starts the ledger of AWS calls that the least-privilege test checks the roles against.
          globalSetup: ['test/support/ledger-global-setup.ts'],
          setupFiles: ['test/support/quiet-metrics.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['test/support/quiet-metrics.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        // Runs after the others (see the test script): it reads the AWS calls they recorded.
        test: {
          name: 'iam',
          include: ['test/iam/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          // Packages the template first when serverless.yml changed (osls: tens of seconds on 2 cores).
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
