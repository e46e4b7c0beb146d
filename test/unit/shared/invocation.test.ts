import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/adapters/logger';
import { parseSettings } from '../../../shared/config/settings';
import { invocationDeadline, noteManager } from '../../../shared/domain/invocation';
import { httpEdge } from '../../../shared/edge/http';
import { localContext } from '../../../shared/edge/middleware/invocation-context';

const settings = parseSettings({ WEBHOOK_TOKENS: 'invocation-test-token-0123' });
const tick = () => new Promise((r) => setTimeout(r, 5));

/** An edge whose domain notes the manager named in the event, yielding in between (as a Docker call does). */
const edge = httpEdge<{ manager: string }, { kind: string }>({
  name: 'invocation-test',
  deps: {
    settings,
    logger: createLogger({ level: 'error', sink: () => {} }),
    tokens: async () => settings.webhookTokens,
  },
  parse: (payload) => ({ input: payload as { manager: string } }),
  paused: false,
  handle: async (input) => {
    await tick();
    noteManager(input.manager);
    await tick();
    await tick();
    return { outcomes: [{ kind: 'done' }], deadline: invocationDeadline() ?? null };
  },
});

describe('what one invocation knows about itself', () => {
  it('names, in each response, the manager that served that request even when requests overlap (npm start)', async () => {
    const [a, b] = await Promise.all([
      edge({ manager: 'unix:///a.sock' }),
      edge({ manager: 'unix:///b.sock' }),
    ]);
    expect(JSON.parse(a.body).manager).toBe('unix:///a.sock');
    expect(JSON.parse(b.body).manager).toBe('unix:///b.sock');
  });

  it('takes its deadline from its own Lambda context, less a margin; none without one', async () => {
    const before = Date.now();
    const withContext = JSON.parse(
      (await edge({ manager: 'x' }, { ...localContext('test'), getRemainingTimeInMillis: () => 10_000 }))
        .body,
    );
    expect(withContext.deadline).toBeGreaterThanOrEqual(before + 9_000 - 50);
    expect(withContext.deadline).toBeLessThanOrEqual(Date.now() + 9_000);
    expect(JSON.parse((await edge({ manager: 'x' })).body).deadline).toBeNull();
  });
});
