import { sleep } from '../proc';

/** Asks `check` every 250 ms until it says yes; past the timeout, fails saying what it waited for and what it saw last. */
export async function poll(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  detail?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const parts = [`timed out after ${timeoutMs} ms waiting for ${what}`];
      if (detail) parts.push(detail());
      if (lastError instanceof Error) parts.push(`last error: ${lastError.message}`);
      throw new Error(parts.join('; '), { cause: lastError });
    }
    await sleep(250);
  }
}
