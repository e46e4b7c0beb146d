import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/replace-node/handler';
import { createSwarmNodes } from '../../shared/adapters/swarm';
import { parseSettings } from '../../shared/config/settings';
import {
  type ChatReceiver,
  requireRealHarness,
  startChatReceiver,
  startSwarm,
  type TestSwarm,
} from '../harness';
import { memoryLogger, realNotifier } from '../support/real-deps';

const describeReal = requireRealHarness(describe, ['swarm']);

describeReal('replace-node when the swarm has lost quorum (3 managers, 2 killed)', () => {
  let swarm: TestSwarm;
  let chat: ChatReceiver;

  beforeAll(async () => {
    [swarm, chat] = await Promise.all([
      startSwarm({ managers: 3, workers: 1, label: 'quorum' }),
      startChatReceiver(),
    ]);
  });
  afterAll(async () => {
    await chat?.close();
    await swarm?.teardown();
  });

  it('refuses, removes nothing, and sends a critical message with the recovery procedure', async () => {
    const settings = parseSettings({
      WEBHOOK_TOKENS: 'quorum-token-0123456789',
      NODE_DOWN_GRACE_SECONDS: '0',
      MAX_DOWN_SHARE: '1',
    });
    const docker = swarm.docker();
    const handler = makeHandler({
      settings,
      logger: memoryLogger().logger,
      tokens: async () => settings.webhookTokens,
      swarm: createSwarmNodes(async () => docker),
      cloud: undefined,
      notifier: realNotifier('replace-node', { webhook: chat.url }),
      clock: { now: () => new Date() },
    });
    const before = (await docker.listNodes()).length;
    await Promise.all([swarm.killNode('m2'), swarm.killNode('m3')]);
    // Wait until m1 itself sees the loss: both peers unreachable, or no answer without a leader.
    const nodes = createSwarmNodes(async () => docker);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const seen = await nodes.listNodes().catch(() => undefined);
      const unreachable = seen?.filter((n) => n.manager?.reachability === 'unreachable').length ?? 2;
      if (unreachable >= 2) break;
      if (Date.now() > deadline) throw new Error('m1 never noticed that m2 and m3 are gone');
      await new Promise((r) => setTimeout(r, 500));
    }

    const response = await handler({ node: 'm3' });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).outcomes[0]).toMatchObject({ kind: 'refused', reason: 'quorum-lost' });
    const [message] = (await chat.waitFor(1)) as Array<{ severity: string; text: string }>;
    expect(message?.severity).toBe('critical');
    expect(message?.text).toContain('docker swarm init --force-new-cluster');

    // Nothing was removed: the surviving manager still knows every node (read from its own store).
    const m1 = swarm.node('m1');
    const info = (await swarm.docker(m1).info()) as { Swarm: { Nodes: number; Managers: number } };
    expect(info.Swarm.Nodes).toBe(before);
    expect(info.Swarm.Managers).toBe(3);
  });
});
