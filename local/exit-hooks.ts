/**
 * Best-effort cleanup when the process ends without the test's afterAll having run
 * (a crash, Ctrl-C, vitest killing its worker). Hooks must be synchronous: on 'exit'
 * the event loop is gone.
 */
type Hook = () => void;

const hooks = new Set<Hook>();
let installed = false;

/** Runs `hook` once when the process exits or gets SIGINT/SIGTERM/SIGHUP. Returns an unregister function. */
export function onProcessExit(hook: Hook): () => void {
  install();
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

function runHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      // Keep going: one broken cleanup must not leave the others' resources behind.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runHooks);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runHooks();
      process.removeListener(signal, onSignal);
      // Only restore the default (die by the signal) when nobody else wanted to handle it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
