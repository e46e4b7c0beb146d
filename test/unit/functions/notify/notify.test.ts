import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { notifyGroup } from '../../../../functions/notify/notify';
import {
  ALERTS_SHOWN,
  alertmanagerGroupUrl,
  NOTIFY_COLOURS,
  renderSlack,
  type SlackMessage,
} from '../../../../functions/notify/render-slack';
import { renderWebhook, WEBHOOK_ALERTS_CAP } from '../../../../functions/notify/render-webhook';
import { createLogger } from '../../../../shared/adapters/logger';
import { type AlertmanagerWebhook, parseWebhook } from '../../../../shared/domain/alerts';
import { DependencyUnavailableError } from '../../../../shared/domain/errors';
import { LONE_SURROGATE, OWN_LINK, slackLimitViolations, slackTexts } from '../../../support/slack-limits';

const fixture = (name: string): AlertmanagerWebhook =>
  parseWebhook(
    JSON.parse(readFileSync(new URL(`../../../../events/notify/${name}`, import.meta.url), 'utf8')),
    10_000,
  );

function group(alerts: number, overrides: Partial<Record<string, unknown>> = {}): AlertmanagerWebhook {
  return parseWebhook(
    {
      version: '4',
      status: 'firing',
      receiver: 'notify',
      groupKey: '{}:{alertname="ServiceMemoryHigh"}',
      groupLabels: { alertname: 'ServiceMemoryHigh' },
      commonLabels: { alertname: 'ServiceMemoryHigh', severity: 'warning' },
      externalURL: 'http://alertmanager:9093',
      alerts: Array.from({ length: alerts }, (_, i) => ({
        status: 'firing',
        labels: { alertname: 'ServiceMemoryHigh', severity: 'warning', service: `svc-${i}` },
        annotations: { summary: `Memory of svc-${i} is high`, description: `Task of svc-${i} uses 90%` },
        startsAt: '2026-11-24T10:00:00Z',
        generatorURL: `http://prometheus:9090/graph?g0.expr=up&i=${i}`,
        fingerprint: `f${i}`,
      })),
      ...overrides,
    },
    10_000,
  );
}

const blocksOf = (m: SlackMessage) => m.attachments[0].blocks;
const sectionTexts = (m: SlackMessage) =>
  blocksOf(m).flatMap((b) => (b.type === 'section' ? [b.text.text] : []));
const headerOf = (m: SlackMessage) => {
  const h = blocksOf(m)[0];
  return h?.type === 'header' ? h.text.text : '';
};

/** Text a person sees once our own links are taken out: must hold no < or > at all. */
const foreignBrackets = (m: unknown) =>
  slackTexts(m)
    .map((t) => t.replace(OWN_LINK, ''))
    .filter((t) => /[<>]/.test(t));

describe('notify: Slack rendering', () => {
  it('renders a firing group: status and count in the header, amber for warning, each alert with its text, labels and links', () => {
    const message = renderSlack(fixture('webhook-firing.json'));
    expect(message.text).toBe('[FIRING:3] ServiceMemoryHigh');
    expect(headerOf(message)).toBe(':fire: [FIRING:3] ServiceMemoryHigh');
    expect(message.attachments[0].color).toBe(NOTIFY_COLOURS.warning);
    const [first, ...rest] = sectionTexts(message);
    expect(rest).toHaveLength(2);
    expect(first).toContain('*Memory of shop_web is over 80% of its limit*');
    expect(first).toContain('Task shop_web.2 on ip-10-0-1-23 has used 87%');
    // Its own labels, not those the whole group shares (they are in the group context).
    expect(first).toContain('`service=shop_web` `task=shop_web.2` `node=ip-10-0-1-23`');
    expect(first).not.toContain('severity=');
    expect(first).toContain('since 2026-11-24 10:00 UTC');
    expect(first).toMatch(/<http:\/\/prometheus:9090\/graph\?g0\.expr=[^|>]+&amp;g0\.tab=1\|Source>/);
    expect(first).toContain('<https://runbooks.example.com/swarm/service-memory-high|Runbook>');
    const context = JSON.stringify(blocksOf(message)[1]);
    expect(context).toContain('3 firing');
    expect(context).toContain('*severity*: warning');
    expect(JSON.stringify(message)).toContain(
      '<http://alertmanager:9093/#/alerts?receiver=notify&amp;filter=%7Balertname%3D%22ServiceMemoryHigh%22%7D|Open in Alertmanager>',
    );
    expect(slackLimitViolations(message)).toEqual([]);
  });

  it('renders a resolved group in green with when each alert ended', () => {
    const message = renderSlack(fixture('webhook-resolved.json'));
    expect(headerOf(message)).toBe(':white_check_mark: [RESOLVED:2] NodeDown');
    expect(message.attachments[0].color).toBe(NOTIFY_COLOURS.resolved);
    expect(sectionTexts(message)[0]).toContain('resolved 2026-11-24 09:58 UTC');
    expect(sectionTexts(message)[0]).toContain('`instance=10.0.1.23:9100` `node=ip-10-0-1-23`');
  });

  it.each([
    [{ severity: 'critical' }, NOTIFY_COLOURS.critical],
    [{ severity: 'warning' }, NOTIFY_COLOURS.warning],
    [{ severity: 'info' }, NOTIFY_COLOURS.info],
    [{}, NOTIFY_COLOURS.info],
  ])('colours a firing group with common labels %o as %s', (labels, colour) => {
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        commonLabels: { alertname: 'X', ...labels },
        alerts: [{ status: 'firing', labels: { alertname: 'X', ...labels } }],
      },
      10,
    );
    expect(renderSlack(webhook).attachments[0].color).toBe(colour);
  });

  it('colours a group without a common severity by its most severe firing alert, and lists that alert first', () => {
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        commonLabels: { alertname: 'X' },
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'X', severity: 'warning' },
            annotations: { summary: 'w' },
          },
          {
            status: 'resolved',
            labels: { alertname: 'X', severity: 'critical' },
            annotations: { summary: 'r' },
          },
          {
            status: 'firing',
            labels: { alertname: 'X', severity: 'critical' },
            annotations: { summary: 'c' },
          },
        ],
      },
      10,
    );
    const message = renderSlack(webhook);
    expect(message.attachments[0].color).toBe(NOTIFY_COLOURS.critical);
    expect(headerOf(message)).toBe(':rotating_light: [FIRING:2, RESOLVED:1] X');
    expect(sectionTexts(message).map((t) => t.split('\n')[0])).toEqual([
      ':fire: *c*',
      ':fire: *w*',
      ':white_check_mark: *r*',
    ]);
  });

  it('falls back to the alertname and the labels for an alert without summary or description', () => {
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        commonLabels: { alertname: 'DiskFull', instance: 'n1:9100' },
        alerts: [{ status: 'firing', labels: { alertname: 'DiskFull', instance: 'n1:9100' } }],
      },
      10,
    );
    expect(sectionTexts(renderSlack(webhook))[0]).toBe(':fire: *DiskFull*\n`instance=n1:9100`');
  });

  it('shows a few of an alert’s own labels, not all of them', () => {
    const labels = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`label${i}`, `v${i}`]));
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        alerts: [{ status: 'firing', labels: { alertname: 'X', ...labels } }],
      },
      10,
    );
    const text = sectionTexts(renderSlack(webhook))[0] ?? '';
    expect(text.match(/`label\d+=v\d+`/g)).toHaveLength(6);
    expect(text).toContain('+34 more labels');
  });

  it('summarises 500 alerts in one message within every Slack limit: the first in full, then how many more', () => {
    const message = renderSlack(group(500, { truncatedAlerts: 12 }));
    expect(slackLimitViolations(message)).toEqual([]);
    expect(blocksOf(message).length).toBeLessThanOrEqual(50);
    expect(headerOf(message).length).toBeLessThanOrEqual(150);
    for (const t of sectionTexts(message)) expect(t.length).toBeLessThanOrEqual(3_000);
    expect(JSON.parse(JSON.stringify(message))).toEqual(message);
    expect(headerOf(message)).toContain('[FIRING:500] ServiceMemoryHigh');
    const texts = sectionTexts(message);
    expect(texts.filter((t) => t.startsWith(':fire:'))).toHaveLength(ALERTS_SHOWN);
    expect(texts.at(-1)).toBe(
      '…and 480 more alerts (see <http://alertmanager:9093/#/alerts?receiver=notify&amp;filter=%7Balertname%3D%22ServiceMemoryHigh%22%7D|Alertmanager>)',
    );
    expect(JSON.stringify(message)).toContain('Alertmanager truncated 12 alerts');
  });

  it('shows fewer alerts in full when each is huge, and cuts each within its section', () => {
    const webhook = group(30);
    for (const a of webhook.alerts) {
      a.annotations.description = 'x'.repeat(60_000);
      a.annotations.summary = 'y'.repeat(5_000);
    }
    const message = renderSlack(webhook);
    expect(slackLimitViolations(message)).toEqual([]);
    const texts = sectionTexts(message);
    expect(texts.length).toBeLessThan(ALERTS_SHOWN);
    expect(texts.at(-1)).toMatch(/^…and \d+ more alerts/);
    expect(texts[0]).toContain('…');
  });

  it('fits an alert with everything at its longest in one section, its description cut to what is left', () => {
    const labels = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`${i}${'k'.repeat(250)}`, '&'.repeat(3_000)]),
    );
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'X', ...labels },
            annotations: {
              summary: '<'.repeat(10_000),
              description: `start ${'>'.repeat(60_000)}`,
              runbook_url: `https://runbooks.example.com/${'r'.repeat(460)}`,
            },
            startsAt: '2026-11-24T10:00:00Z',
            generatorURL: `http://prometheus:9090/graph?g0.expr=${'e'.repeat(1_150)}&x=1`,
          },
        ],
      },
      10,
    );
    const message = renderSlack(webhook);
    expect(slackLimitViolations(message)).toEqual([]);
    const text = sectionTexts(message)[0] ?? '';
    expect(text).toContain('|Source>');
    expect(text).toContain('|Runbook>');
    expect(text).toContain('+4 more labels');
    expect(text.split('\n')[1]).toMatch(/^start (&gt;)+…$/);
  });

  it('says "1 more alert" in the singular, and points to Alertmanager in words when there is no link', () => {
    const message = renderSlack(group(ALERTS_SHOWN + 1, { externalURL: '' }));
    expect(sectionTexts(message).at(-1)).toBe('…and 1 more alert (see Alertmanager)');
  });

  it('escapes markdown-looking, mention and link text from alerts so nothing pings or links', () => {
    const hostile = '<!channel> <!here> <@U0123> <http://evil.example|click> & *bold* `x` &lt;';
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        receiver: 'a&b <c>',
        groupLabels: { alertname: hostile },
        commonLabels: { alertname: hostile, team: '<!subteam^S1>' },
        externalURL: 'http://alertmanager:9093',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: hostile, team: '<!subteam^S1>', pod: '<http://x|y>' },
            annotations: { summary: hostile, description: hostile, runbook_url: 'javascript:alert(1)' },
            generatorURL: 'http://prom:9090/graph?q=<a>|b"c',
          },
        ],
      },
      10,
    );
    const message = renderSlack(webhook);
    expect(foreignBrackets(message)).toEqual([]);
    const all = JSON.stringify(message);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<http://evil');
    expect(all).toContain(
      '&lt;!channel&gt; &lt;!here&gt; &lt;@U0123&gt; &lt;http://evil.example|click&gt; &amp; ',
    );
    expect(all).toContain('&amp;lt;');
    expect(all).not.toContain('javascript:');
    expect(all).toContain('<http://prom:9090/graph?q=%3Ca%3E%7Cb%22c|Source>');
    expect(all).toContain('receiver=a%26b%20%3Cc%3E');
    // Slack must not auto-link or parse mentions in alert text either.
    for (const b of blocksOf(message)) {
      if (b.type === 'section') expect(b.text.verbatim).toBe(true);
      if (b.type === 'context') for (const e of b.elements) expect(e.verbatim).toBe(true);
    }
  });

  it('keeps emoji, CJK and right-to-left text intact, and never cuts a character in half', () => {
    const text = '🚨 ذاكرة عالية — 内存过高 🇫🇷 👩🏽‍💻 ';
    const webhook = parseWebhook(
      {
        version: '4',
        status: 'firing',
        groupLabels: { alertname: `${'🔥'.repeat(200)}` },
        alerts: [
          {
            status: 'firing',
            labels: { alertname: '告警', מחלקה: 'תשתית' },
            annotations: { summary: text, description: '👨‍👩‍👧‍👦'.repeat(2_000) },
          },
        ],
      },
      10,
    );
    const message = renderSlack(webhook);
    expect(slackLimitViolations(message)).toEqual([]);
    const section = sectionTexts(message)[0] ?? '';
    expect(section).toContain(`*${text}*`);
    expect(section).toContain('`מחלקה=תשתית`');
    for (const t of slackTexts(message)) expect(t).not.toMatch(LONE_SURROGATE);
    // Cut on whole family emoji: what is left is a run of them, then the ellipsis.
    const description = section.split('\n')[1] ?? '';
    expect(description).toMatch(/^(👨‍👩‍👧‍👦)+…$/u);
    expect(headerOf(message)).toMatch(/^:fire: \[FIRING:1\] (🔥)+…$/u);
  });

  it('builds the Alertmanager link from encoded parts, and none from an externalURL that is not http(s)', () => {
    const base = group(1, {
      receiver: 'team a/#b',
      groupLabels: { alertname: 'X', path: 'a"b\\c' },
      externalURL: 'https://am.example.com/prefix/?x=1#frag',
    });
    expect(alertmanagerGroupUrl(base)).toBe(
      `https://am.example.com/prefix/#/alerts?receiver=team%20a%2F%23b&filter=${encodeURIComponent('{alertname="X",path="a\\"b\\\\c"}')}`,
    );
    expect(alertmanagerGroupUrl({ ...base, externalURL: 'javascript:alert(1)//' })).toBeUndefined();
    expect(alertmanagerGroupUrl({ ...base, externalURL: 'not a url' })).toBeUndefined();
  });
});

describe('notify: generic JSON webhook rendering', () => {
  it('is the documented compact document, with every alert of the group', () => {
    const webhook = fixture('webhook-firing.json');
    const json = renderWebhook(webhook);
    expect(json).toEqual({
      source: 'swarm-reflex',
      function: 'notify',
      status: 'firing',
      groupKey: webhook.groupKey,
      receiver: 'notify',
      groupLabels: { alertname: 'ServiceMemoryHigh' },
      commonLabels: webhook.commonLabels,
      commonAnnotations: webhook.commonAnnotations,
      externalURL: 'http://alertmanager:9093',
      truncatedAlerts: 0,
      alerts: webhook.alerts.map((a) => ({
        status: a.status,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: a.startsAt,
        endsAt: a.endsAt,
        generatorURL: a.generatorURL,
        fingerprint: a.fingerprint,
      })),
    });
  });

  it('caps the alerts it lists and counts the rest as truncated, with those Alertmanager truncated', () => {
    const json = renderWebhook(group(WEBHOOK_ALERTS_CAP + 5, { truncatedAlerts: 7 }));
    expect(json.alerts).toHaveLength(WEBHOOK_ALERTS_CAP);
    expect(json.truncatedAlerts).toBe(12);
  });
});

describe('notify: delivery', () => {
  const log = createLogger({ sink: () => {} });

  it('posts the Slack rendering to Slack targets and the JSON one to webhook targets', async () => {
    const posts: Array<{ url: string; body: unknown; timeoutMs: number }> = [];
    const webhook = fixture('webhook-firing.json');
    const result = await notifyGroup(
      {
        targets: async () => [
          { kind: 'slack', url: 'https://hooks.slack.example/T/B/x' },
          { kind: 'webhook', url: 'https://hook.example/notify' },
        ],
        post: async (url, body, timeoutMs) => {
          posts.push({ url, body, timeoutMs });
        },
        settings: { notifyTimeoutMs: 1_234 },
      },
      { webhook, dryRun: false, log },
    );
    expect(result).toEqual({
      outcomes: [{ kind: 'delivered', targets: 2, alerts: 3, firing: 3, resolved: 0 }],
    });
    expect(posts).toEqual([
      { url: 'https://hooks.slack.example/T/B/x', body: renderSlack(webhook), timeoutMs: 1_234 },
      { url: 'https://hook.example/notify', body: renderWebhook(webhook), timeoutMs: 1_234 },
    ]);
  });

  it('fails with a retryable chat error naming the failed target kinds, never their URLs', async () => {
    const attempt = notifyGroup(
      {
        targets: async () => [
          { kind: 'slack', url: 'https://hooks.slack.example/T/B/secret' },
          { kind: 'webhook', url: 'https://hook.example/notify' },
        ],
        post: async (url) => {
          if (url.includes('secret'))
            throw new DependencyUnavailableError('chat', 'chat webhook answered 500');
        },
        settings: { notifyTimeoutMs: 1_000 },
      },
      { webhook: fixture('webhook-firing.json'), dryRun: false, log },
    );
    await expect(attempt).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(attempt).rejects.toMatchObject({
      dependency: 'chat',
      retryable: true,
      message: expect.stringMatching(/^1 of 2 chat targets failed \(slack: chat webhook answered 500\)/),
    });
    await expect(attempt).rejects.not.toThrow(/secret/);
  });
});

describe('notify: Slack rendering of arbitrary groups (property)', () => {
  const hostile = fc.constantFrom(
    '<!channel>',
    '<!here|here>',
    '<@U0123>',
    '<http://evil.example|click>',
    '<#C123>',
    '&amp;<>',
    '*bold* _it_ ~s~ `code` ```block```',
    '🚨🇫🇷👨‍👩‍👧‍👦',
    'مرحبا بالعالم',
    '内存过高',
    '',
  );
  const short = fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  );
  const long = fc.oneof(
    { weight: 9, arbitrary: short },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'grapheme', minLength: 1_000, maxLength: 8_000, size: 'max' }),
    },
  );
  const labels = fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 40 }), short, { maxKeys: 12 });
  const url = fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), short);
  const alert = fc.record({
    status: fc.constantFrom('firing', 'resolved'),
    labels,
    annotations: fc.record(
      { summary: long, description: long, message: short, runbook_url: url },
      { requiredKeys: [] },
    ),
    startsAt: fc.constantFrom('2026-11-24T10:00:00Z', '0001-01-01T00:00:00Z', 'not a time'),
    endsAt: fc.constantFrom('2026-11-24T11:00:00Z', '0001-01-01T00:00:00Z'),
    generatorURL: url,
  });
  const webhook = fc.record({
    version: fc.constant('4'),
    status: fc.constantFrom('firing', 'resolved'),
    receiver: short,
    groupKey: short,
    groupLabels: labels,
    commonLabels: labels,
    externalURL: url,
    truncatedAlerts: fc.nat({ max: 10_000 }),
    // Small groups, and big ones up to 200 alerts (fast-check alone rarely makes long arrays).
    alerts: fc.oneof(
      fc.array(alert, { minLength: 1, maxLength: 5 }),
      fc.array(alert, { minLength: 150, maxLength: 200 }),
    ),
  });

  it('never exceeds a Slack limit, always is JSON, and never lets a < or > from alert text through', () => {
    fc.assert(
      fc.property(webhook, (raw) => {
        const parsed = parseWebhook(raw, 10_000);
        const message = renderSlack(parsed);
        expect(slackLimitViolations(message)).toEqual([]);
        expect(JSON.parse(JSON.stringify(message))).toEqual(message);
        expect(foreignBrackets(message)).toEqual([]);
        for (const t of slackTexts(message)) expect(t).not.toMatch(/&(?!amp;|lt;|gt;)/);
        if (!LONE_SURROGATE.test(JSON.stringify(raw))) {
          for (const t of slackTexts(message)) expect(t).not.toMatch(LONE_SURROGATE);
        }
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});
