import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../../../functions/notify/handler';
import { NO_TARGETS_DETAIL } from '../../../../functions/notify/notify';
import { renderWebhook } from '../../../../functions/notify/render-webhook';
import { postJson } from '../../../../shared/adapters/chat';
import { createLogger } from '../../../../shared/adapters/logger';
import { createSecrets } from '../../../../shared/config/secrets';
import { parseSettings } from '../../../../shared/config/settings';
import { parseWebhook } from '../../../../shared/domain/alerts';
import { type ChatReceiver, startChatReceiver } from '../../../harness/chat-receiver';
import { captureEmf } from '../../../support/emf';
import { LONE_SURROGATE, slackLimitViolations } from '../../../support/slack-limits';

const TOKEN = 'notify-handler-token-0123456789';
const fixtureText = (name: string) =>
  readFileSync(new URL(`../../../../events/notify/${name}`, import.meta.url), 'utf8');
const fixture = (name: string): unknown => JSON.parse(fixtureText(name));

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function receiver(port = 0): Promise<ChatReceiver> {
  const r = await startChatReceiver(port);
  closers.push(() => r.close());
  return r;
}

/**
 * The handler with its real wiring: chat targets from the settings through the real
 * secrets module, delivered with the real postJson to real local HTTP receivers.
 */
function setup(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const settings = parseSettings({ WEBHOOK_TOKENS: TOKEN, NOTIFY_TIMEOUT_MS: '1000', ...env });
  const secrets = createSecrets({
    settings,
    ssm: () => {
      throw new Error('SSM must not be called without SETTINGS_PREFIX');
    },
  });
  const handler = makeHandler({
    settings,
    logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }),
    tokens: async () => settings.webhookTokens,
    targets: () => secrets.chatTargets(),
    post: postJson,
  });
  return { handler, lines };
}

function httpEvent(body: string, options: { auth?: string; query?: Record<string, string> } = {}) {
  return {
    version: '2.0',
    rawPath: '/alerts/notify',
    headers: { 'content-type': 'application/json', authorization: options.auth ?? `Bearer ${TOKEN}` },
    queryStringParameters: options.query,
    requestContext: { http: { method: 'POST', path: '/alerts/notify' } },
    body,
    isBase64Encoded: false,
  };
}

type Slack = {
  text: string;
  attachments: Array<{
    color: string;
    blocks: Array<{ type: string; text?: { text: string }; elements?: Array<{ text: string }> }>;
  }>;
};
const blocks = (m: unknown) => (m as Slack).attachments[0]?.blocks ?? [];
const header = (m: unknown) => blocks(m)[0]?.text?.text;
const sections = (m: unknown) => blocks(m).flatMap((b) => (b.type === 'section' ? [b.text?.text ?? ''] : []));

function bigGroup(alerts: number) {
  return {
    version: '4',
    groupKey: '{}:{alertname="TaskRestarting"}',
    status: 'firing',
    receiver: 'notify',
    groupLabels: { alertname: 'TaskRestarting' },
    commonLabels: { alertname: 'TaskRestarting', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: Array.from({ length: alerts }, (_, i) => ({
      status: 'firing',
      labels: {
        alertname: 'TaskRestarting',
        severity: 'critical',
        service: `app_${i}`,
        node: `node-${i % 7}`,
      },
      annotations: {
        summary: `Tasks of app_${i} keep restarting`,
        description: `app_${i} restarted ${i + 3} times in 10 minutes; last exit code 137 (out of memory).`,
      },
      startsAt: '2026-11-24T10:00:00Z',
      generatorURL: `http://prometheus:9090/graph?g0.expr=restarts&i=${i}`,
      fingerprint: `a${i.toString(16).padStart(15, '0')}`,
    })),
  };
}

describe('notify handler (real local HTTP receivers)', () => {
  it('delivers a firing group to Slack and to the generic webhook, and answers one delivered outcome', async () => {
    const slack = await receiver();
    const hook = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url, NOTIFY_WEBHOOK_URL: hook.url });
    const response = await handler(httpEvent(fixtureText('webhook-firing.json')));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      outcomes: [{ kind: 'delivered', targets: 2, alerts: 3, firing: 3, resolved: 0 }],
    });
    expect(slack.messages).toHaveLength(1);
    const message = slack.messages[0];
    expect(slackLimitViolations(message)).toEqual([]);
    expect((message as Slack).text).toBe('[FIRING:3] ServiceMemoryHigh');
    expect(header(message)).toBe(':fire: [FIRING:3] ServiceMemoryHigh');
    expect((message as Slack).attachments[0]?.color).toBe('#ecb22e');
    expect(sections(message)).toHaveLength(3);
    expect(sections(message)[2]).toContain('*Memory of shop_api is over 80% of its limit*');
    expect(hook.messages).toEqual([
      JSON.parse(JSON.stringify(renderWebhook(parseWebhook(fixture('webhook-firing.json'), 1_000)))),
    ]);
    expect(hook.messages[0]).toMatchObject({
      source: 'swarm-reflex',
      function: 'notify',
      status: 'firing',
      receiver: 'notify',
      truncatedAlerts: 0,
      alerts: [
        { fingerprint: '3f1c7a9e2b4d6801' },
        { fingerprint: '9a0e5b3c71d2f446' },
        { fingerprint: 'c52d8e07a61b9f13' },
      ],
    });
  });

  it('delivers a resolved group, in green, to both targets', async () => {
    const slack = await receiver();
    const hook = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url, NOTIFY_WEBHOOK_URL: hook.url });
    const response = await handler(httpEvent(fixtureText('webhook-resolved.json')));
    expect(JSON.parse(response.body).outcomes).toEqual([
      { kind: 'delivered', targets: 2, alerts: 2, firing: 0, resolved: 2 },
    ]);
    expect(header(slack.messages[0])).toBe(':white_check_mark: [RESOLVED:2] NodeDown');
    expect((slack.messages[0] as Slack).attachments[0]?.color).toBe('#2eb67d');
    expect(hook.messages[0]).toMatchObject({ status: 'resolved', groupLabels: { alertname: 'NodeDown' } });
  });

  it('accepts the fixture invoked directly (console test) without a token', async () => {
    const slack = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url });
    const response = await handler(fixture('webhook-firing.json'));
    expect(response.statusCode).toBe(200);
    expect(slack.messages).toHaveLength(1);
  });

  it('sends 500 alerts as one Slack message within every limit, summarising the rest', async () => {
    const slack = await receiver();
    const hook = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url, NOTIFY_WEBHOOK_URL: hook.url });
    const response = await handler(httpEvent(JSON.stringify({ ...bigGroup(500), truncatedAlerts: 25 })));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).outcomes).toEqual([
      { kind: 'delivered', targets: 2, alerts: 500, firing: 500, resolved: 0, truncatedAlerts: 25 },
    ]);
    expect(slack.messages).toHaveLength(1);
    const message = slack.messages[0];
    expect(slackLimitViolations(message)).toEqual([]);
    expect(blocks(message).length).toBeLessThanOrEqual(50);
    expect(header(message)?.length).toBeLessThanOrEqual(150);
    for (const text of sections(message)) expect(text.length).toBeLessThanOrEqual(3_000);
    expect(header(message)).toBe(':rotating_light: [FIRING:500] TaskRestarting');
    expect(sections(message).at(-1)).toMatch(
      /^…and 480 more alerts \(see <http:\/\/alertmanager:9093\/#\/alerts\?receiver=notify&amp;filter=[^|]+\|Alertmanager>\)$/,
    );
    expect(JSON.stringify(message)).toContain('Alertmanager truncated 25 alerts');
    const json = hook.messages[0] as { alerts: unknown[]; truncatedAlerts: number };
    expect(json.alerts).toHaveLength(500);
    expect(json.truncatedAlerts).toBe(25);
  });

  it('delivers unicode intact and alert text that looks like mentions, links or markdown escaped', async () => {
    const slack = await receiver();
    const hook = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url, NOTIFY_WEBHOOK_URL: hook.url });
    const summary = '🚨 内存过高 — ذاكرة عالية 🇯🇵 <!channel> <http://evil.example|click> *now* & _here_';
    const body = JSON.stringify({
      version: '4',
      status: 'firing',
      receiver: 'notify',
      groupLabels: { alertname: 'Hostile <!here>' },
      commonLabels: { alertname: 'Hostile <!here>' },
      externalURL: 'http://alertmanager:9093',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'Hostile <!here>', team: '<@U0123> & friends', רשת: '日本語' },
          annotations: { summary, description: `${'👨‍👩‍👧‍👦'.repeat(900)}<!everyone>` },
        },
      ],
    });
    expect((await handler(httpEvent(body))).statusCode).toBe(200);
    const delivered = JSON.stringify(slack.messages[0]);
    expect(delivered).toContain(
      '🚨 内存过高 — ذاكرة عالية 🇯🇵 &lt;!channel&gt; &lt;http://evil.example|click&gt; *now* &amp; _here_',
    );
    expect(delivered).toContain('`team=&lt;@U0123&gt; &amp; friends`');
    expect(delivered).toContain('`רשת=日本語`');
    expect(header(slack.messages[0])).toBe(':fire: [FIRING:1] Hostile &lt;!here&gt;');
    for (const raw of ['<!channel>', '<!here>', '<!everyone>', '<@U0123>', '<http://evil']) {
      expect(delivered).not.toContain(raw);
    }
    expect(delivered).not.toMatch(LONE_SURROGATE);
    // The generic webhook gets the alert's text exactly as Alertmanager sent it.
    expect(JSON.stringify(hook.messages[0])).toContain(JSON.stringify(summary).slice(1, -1));
  });

  it('answers 503 with retry when Slack answers 500, and the same request delivers once it recovers', async () => {
    const slack = await receiver();
    const { handler, lines } = setup({ SLACK_WEBHOOK_URL: slack.url });
    const request = httpEvent(fixtureText('webhook-firing.json'));
    slack.answer(500);
    const failed = await handler(request);
    expect(failed.statusCode).toBe(503);
    expect(JSON.parse(failed.body)).toMatchObject({
      error: 'DependencyUnavailableError',
      message: expect.stringContaining('slack: chat webhook answered 500'),
      retry: true,
    });
    expect(failed.body).not.toContain(slack.url);
    expect(lines.some((l) => l.includes('chat delivery failed'))).toBe(true);
    expect(slack.messages).toHaveLength(0);
    slack.answer(200);
    const retried = await handler(request);
    expect(retried.statusCode).toBe(200);
    expect(slack.messages).toHaveLength(1);
    expect(header(slack.messages[0])).toBe(':fire: [FIRING:3] ServiceMemoryHigh');
  });

  it('answers 503 when the receiver is down, and delivers on retry once it is back on the same address', async () => {
    const first = await startChatReceiver();
    const port = Number(new URL(first.url).port);
    await first.close();
    const { handler } = setup({ NOTIFY_WEBHOOK_URL: first.url });
    const request = httpEvent(fixtureText('webhook-resolved.json'));
    const failed = await handler(request);
    expect(failed.statusCode).toBe(503);
    expect(JSON.parse(failed.body)).toMatchObject({
      message: expect.stringContaining('webhook: chat webhook unreachable'),
      retry: true,
    });
    const back = await receiver(port);
    const retried = await handler(request);
    expect(retried.statusCode).toBe(200);
    expect(back.messages).toHaveLength(1);
    expect(back.messages[0]).toMatchObject({ status: 'resolved' });
  });

  it('answers 503 when one of two targets fails: the other gets the message, and gets it again on retry', async () => {
    const slack = await receiver();
    const hook = await receiver();
    hook.answer(502);
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url, NOTIFY_WEBHOOK_URL: hook.url });
    const request = httpEvent(fixtureText('webhook-firing.json'));
    const failed = await handler(request);
    expect(failed.statusCode).toBe(503);
    expect(JSON.parse(failed.body).message).toMatch(
      /^1 of 2 chat targets failed \(webhook: chat webhook answered 502\)/,
    );
    expect(slack.messages).toHaveLength(1);
    hook.answer(200);
    expect((await handler(request)).statusCode).toBe(200);
    expect(slack.messages).toHaveLength(2);
    expect(hook.messages).toHaveLength(1);
  });

  it('answers 503 when a target does not answer within NOTIFY_TIMEOUT_MS', async () => {
    const silent = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          silent.closeAllConnections();
          silent.close(() => resolve());
        }),
    );
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`;
    const { handler } = setup({ SLACK_WEBHOOK_URL: url, NOTIFY_TIMEOUT_MS: '200' });
    const started = Date.now();
    const response = await handler(httpEvent(fixtureText('webhook-firing.json')));
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body).message).toMatch(/slack: chat webhook unreachable \(TimeoutError\)/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers 200 skipped no-targets, saying what to set, when no chat target is configured', async () => {
    const { handler, lines } = setup();
    const response = await handler(httpEvent(fixtureText('webhook-firing.json')));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      outcomes: [{ kind: 'skipped', reason: 'no-targets', alerts: 3, detail: NO_TARGETS_DETAIL }],
    });
    expect(NO_TARGETS_DETAIL).toMatch(/SLACK_WEBHOOK_URL.*NOTIFY_WEBHOOK_URL/);
    expect(lines.some((l) => l.includes('no chat target configured'))).toBe(true);
  });

  it('returns the rendered message and sends nothing with ?dryRun=true or DRY_RUN (which a caller cannot switch off)', async () => {
    const slack = await receiver();
    const viaQuery = setup({ SLACK_WEBHOOK_URL: slack.url });
    const r1 = await viaQuery.handler(
      httpEvent(fixtureText('webhook-firing.json'), { query: { dryRun: 'true' } }),
    );
    expect(r1.statusCode).toBe(200);
    const [outcome] = JSON.parse(r1.body).outcomes;
    expect(outcome).toMatchObject({ kind: 'skipped', reason: 'dry-run', alerts: 3 });
    expect(header(outcome.message.slack)).toBe(':fire: [FIRING:3] ServiceMemoryHigh');
    expect(outcome.message.webhook).toMatchObject({ source: 'swarm-reflex', function: 'notify' });
    const viaSetting = setup({ SLACK_WEBHOOK_URL: slack.url, DRY_RUN: 'true' });
    const r2 = await viaSetting.handler(
      httpEvent(fixtureText('webhook-firing.json'), { query: { dryRun: 'false' } }),
    );
    expect(JSON.parse(r2.body).outcomes[0]).toMatchObject({ reason: 'dry-run' });
    await new Promise((r) => setTimeout(r, 100));
    expect(slack.messages).toHaveLength(0);
  });

  it.each([
    ['not JSON', 'this is not json', 400, /body is not JSON/],
    ['not a webhook', '{"hello":"world"}', 400, /version: must be "4"/],
    ['a webhook without alerts', '{"version":"4","status":"firing","alerts":[]}', 400, /at least one alert/],
  ])('answers 400 for a body that is %s, and sends nothing', async (_name, body, status, message) => {
    const slack = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url });
    const response = await handler(httpEvent(body));
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).message).toMatch(message);
    expect(slack.messages).toHaveLength(0);
  });

  it('answers 400 for a bad dryRun query parameter, and sends nothing', async () => {
    const slack = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url });
    const response = await handler(
      httpEvent(fixtureText('webhook-firing.json'), { query: { dryRun: 'maybe' } }),
    );
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(/query parameter dryRun/);
    expect(slack.messages).toHaveLength(0);
  });

  it('answers 401 without valid credentials, and sends nothing', async () => {
    const slack = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url });
    for (const auth of ['', 'Bearer wrong-token-wrong-token', `Token ${TOKEN}`]) {
      const response = await handler(httpEvent(fixtureText('webhook-firing.json'), { auth }));
      expect(response.statusCode, auth).toBe(401);
    }
    expect(slack.messages).toHaveLength(0);
  });

  it('answers 413 for an oversized body, and sends nothing', async () => {
    const slack = await receiver();
    const { handler } = setup({ SLACK_WEBHOOK_URL: slack.url, MAX_BODY_BYTES: '4096' });
    const response = await handler(httpEvent(JSON.stringify(bigGroup(50))));
    expect(response.statusCode).toBe(413);
    expect(slack.messages).toHaveLength(0);
  });

  it('counts its outcome as a metric and logs one audit line per delivery', async () => {
    const slack = await receiver();
    const { handler, lines } = setup({ SLACK_WEBHOOK_URL: slack.url });
    const { emf } = await captureEmf(() => handler(httpEvent(fixtureText('webhook-firing.json'))));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((r) => r.audit === true)).toEqual([
      expect.objectContaining({ function: 'notify', targets: 1, failed: 0, alerts: 3, firing: 3 }),
    ]);
    expect(emf).toEqual([
      expect.objectContaining({ function: 'notify', kind: 'delivered', reason: 'none', outcomes: 1 }),
    ]);
  });
});
