/**
 * Setup of the mutation run's unit tests (scripts/mutate-vitest.config.ts): a promise that
 * rejects and gets its handler a moment later is not an error here; one still unhandled when
 * its test ends fails that test.
 *
 * Why: the unit suite has such promises today. WorkerGroup.describe (shared/adapters/autoscaling.ts)
 * builds its Promise.all one element at a time with an `await` in between, so when the fake
 * Auto Scaling rejects the first call at once, that rejection waits a few ticks for its
 * handler. Vitest reports each as an unhandled error, and Stryker then refuses the whole run
 * ("Something went wrong in the initial test run"), or counts a mutant as a runtime error
 * instead of killed or survived. Node's own bookkeeping ('unhandledRejection', then
 * 'rejectionHandled' for the same promise) tells the late handler from a missing one.
 */
import { afterEach } from 'vitest';

const pending = new Map<Promise<unknown>, unknown>();
const listening = Symbol.for('swarm-reflex.mutate.rejections');
const proc = process as NodeJS.Process & { [listening]?: boolean };

// Once per worker: a listener besides vitest's own tells vitest that rejections are handled here.
if (!proc[listening]) {
  proc[listening] = true;
  process.on('unhandledRejection', (reason, promise) => pending.set(promise, reason));
  process.on('rejectionHandled', (promise) => pending.delete(promise));
}

afterEach(async () => {
  // A handler attached within the test's last ticks still counts as handled.
  await new Promise((resolve) => setImmediate(resolve));
  const left = [...pending.values()];
  pending.clear();
  if (left.length > 0) {
    const first = left[0] instanceof Error ? left[0].message : String(left[0]);
    throw new Error(`${left.length} promise rejection(s) never handled, the first: ${first}`);
  }
});
