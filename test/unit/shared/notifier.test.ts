import { afterEach, describe, expect, it } from 'vitest';
import { createNotifier } from '../../../shared/adapters/chat';
import { createLogger } from '../../../shared/adapters/logger';
import {
  escapeSlack,
  escapeSlackWithin,
  type Notice,
  SLACK_SECTION_LIMIT,
  slackLink,
  slackMessage,
  truncate,
} from '../../../shared/domain/notice';
import { type ChatReceiver, startChatReceiver } from '../../harness/chat-receiver';

const receivers: ChatReceiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

const notice: Notice = {
  severity: 'critical',
  title: 'Swarm lost quorum: 1 of 3 managers reachable',
  text: 'Run `docker swarm init --force-new-cluster` on a surviving manager. <!channel> & <http://x|y>',
  fields: { managers: '3', reachable: '1' },
};

describe('notifier (real local HTTP receiver)', () => {
  it('delivers a Slack message and a generic JSON message', async () => {
    const slack = await startChatReceiver();
    const hook = await startChatReceiver();
    receivers.push(slack, hook);
    const lines: string[] = [];
    const notifier = createNotifier({
      source: 'replace-node',
      targets: async () => [
        { kind: 'slack', url: slack.url },
        { kind: 'webhook', url: hook.url },
      ],
      timeoutMs: 2_000,
      log: createLogger({ sink: (l) => lines.push(l) }),
    });
    expect(await notifier.notify(notice)).toEqual({ delivered: 2, failed: 0 });
    const [s] = slack.messages as Array<{
      text: string;
      attachments: Array<{ color: string; blocks: unknown[] }>;
    }>;
    expect(s?.text).toBe('[CRITICAL] Swarm lost quorum: 1 of 3 managers reachable');
    expect(s?.attachments[0]?.color).toBe('#e01e5a');
    expect(JSON.stringify(s)).toContain('&lt;!channel&gt; &amp; &lt;http://x|y&gt;');
    expect(JSON.stringify(s)).not.toContain('<!channel>');
    expect(hook.messages[0]).toMatchObject({
      source: 'swarm-reflex',
      function: 'replace-node',
      severity: 'critical',
    });
  });

  it('never throws when a target is down or failing; it logs and counts', async () => {
    const failing = await startChatReceiver();
    receivers.push(failing);
    failing.answer(500);
    const closed = await startChatReceiver();
    await closed.close();
    const lines: string[] = [];
    const notifier = createNotifier({
      source: 'replace-node',
      targets: async () => [
        { kind: 'slack', url: failing.url },
        { kind: 'webhook', url: closed.url },
      ],
      timeoutMs: 1_000,
      log: createLogger({ sink: (l) => lines.push(l) }),
    });
    expect(await notifier.notify(notice)).toEqual({ delivered: 0, failed: 2 });
    expect(lines.filter((l) => l.includes('chat delivery failed'))).toHaveLength(2);
  });

  it('keeps Slack sections within their limit and unicode intact', () => {
    const long = { ...notice, text: '🚨'.repeat(5_000) };
    const message = slackMessage('x', long) as {
      attachments: Array<{ blocks: Array<{ text?: { text: string } }> }>;
    };
    const text = message.attachments[0]?.blocks[0]?.text?.text ?? '';
    expect(text.length).toBeLessThanOrEqual(SLACK_SECTION_LIMIT);
    expect(text).not.toMatch(/[\uD800-\uDBFF]$/);
    expect(escapeSlack('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
  });
});

describe('Slack text helpers', () => {
  it('cuts escaped text on the original characters, never inside an entity', () => {
    expect(escapeSlackWithin('a&b', 10)).toBe('a&amp;b');
    expect(escapeSlackWithin('&&&&', 12)).toBe('&amp;&amp;…');
    expect(escapeSlackWithin('<<<<', 9)).toBe('&lt;&lt;…');
    expect(escapeSlackWithin('anything', 0)).toBe('');
  });

  it('never splits an emoji, a flag or a family when truncating', () => {
    expect(truncate('🇫🇷🇫🇷🇫🇷', 5)).toBe('🇫🇷…');
    expect(truncate('👨‍👩‍👧‍👦👨‍👩‍👧‍👦', 12)).toBe('👨‍👩‍👧‍👦…');
    expect(truncate('short', 5)).toBe('short');
  });

  it('links only http(s) URLs, with <, >, | and & unable to end or break the link', () => {
    expect(slackLink('http://prom:9090/graph?a=1&b=<x>|y', 'Source')).toBe(
      '<http://prom:9090/graph?a=1&amp;b=%3Cx%3E%7Cy|Source>',
    );
    expect(slackLink('javascript:alert(1)', 'Source')).toBeUndefined();
    expect(slackLink('not a url', 'Source')).toBeUndefined();
    expect(slackLink(`https://x.example/${'a'.repeat(2_000)}`, 'Source', 1_000)).toBeUndefined();
  });

  it('escapes the title in the message text Slack shows and notifies with', () => {
    const message = slackMessage('x', { ...notice, title: 'node <!channel> & co' }) as { text: string };
    expect(message.text).toBe('[CRITICAL] node &lt;!channel&gt; &amp; co');
  });
});
