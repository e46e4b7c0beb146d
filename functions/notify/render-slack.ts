import { type AlertmanagerAlert, type AlertmanagerWebhook, countAlerts } from '../../shared/domain/alerts';
import { escapeSlackWithin, SLACK_LIMITS, slackLink } from '../../shared/domain/notice';

/** One alert group as a Slack Block Kit message a person can read at a glance. */
type MrkdwnText = { type: 'mrkdwn'; text: string; verbatim: true };
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: true } }
  | { type: 'section'; text: MrkdwnText }
  | { type: 'context'; elements: MrkdwnText[] }
  | { type: 'divider' };

export interface SlackMessage {
  text: string;
  attachments: [{ color: string; fallback: string; blocks: SlackBlock[] }];
}

/** Alerts shown in full; the rest are counted in one line with a link to Alertmanager. */
export const ALERTS_SHOWN = 20;
/** Characters of alert sections in one message, so that a group of big alerts stays readable. */
const ALERTS_TEXT_BUDGET = 12_000;
const OWN_LABELS_SHOWN = 6;
const GROUP_LABELS_SHOWN = 8;
// Caps that keep one alert's section under 3,000 characters by construction: title 250,
// labels 6 × (40 + 80), source link 1,200 and runbook link 500 leave 200+ for the description.
const LABEL_KEY_MAX = 40;
const LABEL_VALUE_MAX = 80;
const SOURCE_URL_MAX = 1_200;
const RUNBOOK_URL_MAX = 500;

type Level = 'critical' | 'warning' | 'info';
const rank: Record<Level, number> = { critical: 0, warning: 1, info: 2 };
export const NOTIFY_COLOURS = {
  critical: '#e01e5a',
  warning: '#ecb22e',
  info: '#6c8ebf',
  resolved: '#2eb67d',
} as const;

/** Common spellings of a severity label, folded into three levels; anything else is info. */
export function severityLevel(value: string | undefined): Level {
  const v = (value ?? '').trim().toLowerCase();
  if (['critical', 'crit', 'error', 'high', 'page', 'fatal', 'emergency', 'alert'].includes(v))
    return 'critical';
  if (['warning', 'warn', 'medium', 'major'].includes(v)) return 'warning';
  return 'info';
}

/** The group's severity label, else the most severe of its firing alerts. */
export function groupLevel(webhook: AlertmanagerWebhook): Level {
  const label = webhook.groupLabels.severity ?? webhook.commonLabels.severity;
  if (label !== undefined) return severityLevel(label);
  return webhook.alerts
    .filter((a) => a.status === 'firing')
    .map((a) => severityLevel(a.labels.severity))
    .reduce<Level>((worst, l) => (rank[l] < rank[worst] ? l : worst), 'info');
}

/** `[FIRING:3] ServiceMemoryHigh (demo_web)`, unescaped. */
export function headline(webhook: AlertmanagerWebhook): string {
  const { firing, resolved } = countAlerts(webhook.alerts);
  const status =
    webhook.status === 'firing'
      ? `FIRING:${firing}${resolved > 0 ? `, RESOLVED:${resolved}` : ''}`
      : `RESOLVED:${resolved}`;
  const name =
    webhook.groupLabels.alertname ||
    webhook.commonLabels.alertname ||
    webhook.alerts[0]?.labels.alertname ||
    'alerts';
  const others = Object.entries(webhook.groupLabels)
    .filter(([k, v]) => k !== 'alertname' && v !== '')
    .map(([, v]) => v);
  return `[${status}] ${name}${others.length > 0 ? ` (${others.join(' ')})` : ''}`;
}

/**
 * The group in Alertmanager's UI: `<externalURL>/#/alerts?receiver=…&filter={…}`, or
 * undefined when externalURL is not an http(s) URL. Built from parts, each encoded.
 */
export function alertmanagerGroupUrl(webhook: AlertmanagerWebhook): string | undefined {
  let base: URL;
  try {
    base = new URL(webhook.externalURL);
  } catch {
    return undefined;
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
  base.search = '';
  base.hash = '';
  const params = [`receiver=${encodeURIComponent(webhook.receiver)}`];
  const matchers = Object.entries(webhook.groupLabels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  if (matchers.length > 0) params.push(`filter=${encodeURIComponent(`{${matchers.join(',')}}`)}`);
  return `${base.href.replace(/\/+$/, '')}/#/alerts?${params.join('&')}`;
}

const mrkdwn = (text: string): MrkdwnText => ({ type: 'mrkdwn', text, verbatim: true });

export function renderSlack(webhook: AlertmanagerWebhook): SlackMessage {
  const level = groupLevel(webhook);
  const title = headline(webhook);
  const resolved = webhook.status === 'resolved';
  const icon = resolved ? ':white_check_mark:' : level === 'critical' ? ':rotating_light:' : ':fire:';
  const amUrl = alertmanagerGroupUrl(webhook);
  const amLink = (label: string) => slackLink(amUrl, label, 2_000) ?? label;

  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: escapeSlackWithin(`${icon} ${title}`, SLACK_LIMITS.headerText),
        emoji: true,
      },
    },
    { type: 'context', elements: groupContext(webhook) },
    { type: 'divider' },
  ];

  const ordered = orderAlerts(webhook.alerts);
  const common = webhook.commonLabels;
  let used = 0;
  let shown = 0;
  for (const alert of ordered) {
    if (shown >= ALERTS_SHOWN) break;
    const text = alertText(alert, common);
    if (shown > 0 && used + text.length > ALERTS_TEXT_BUDGET) break;
    blocks.push({ type: 'section', text: mrkdwn(text) });
    used += text.length;
    shown += 1;
  }
  const more = ordered.length - shown;
  if (more > 0) {
    blocks.push({
      type: 'section',
      text: mrkdwn(`…and ${more} more alert${more === 1 ? '' : 's'} (see ${amLink('Alertmanager')})`),
    });
  }
  const footer = ['swarm-reflex · notify'];
  if (amUrl !== undefined) footer.push(amLink('Open in Alertmanager'));
  blocks.push({ type: 'context', elements: [mrkdwn(footer.join(' · '))] });

  const fallback = escapeSlackWithin(title, 300);
  return {
    text: fallback,
    attachments: [{ color: resolved ? NOTIFY_COLOURS.resolved : NOTIFY_COLOURS[level], fallback, blocks }],
  };
}

/** Firing before resolved, then the most severe first; otherwise Alertmanager's order. */
function orderAlerts(alerts: readonly AlertmanagerAlert[]): AlertmanagerAlert[] {
  const key = (a: AlertmanagerAlert) =>
    (a.status === 'firing' ? 0 : 3) + rank[severityLevel(a.labels.severity)];
  return alerts
    .map((a, i) => ({ a, i, k: key(a) }))
    .sort((x, y) => x.k - y.k || x.i - y.i)
    .map((x) => x.a);
}

/** The group's labels (those it was grouped by first, then those all its alerts share). */
function groupContext(webhook: AlertmanagerWebhook): MrkdwnText[] {
  const entries = Object.entries({ ...webhook.groupLabels, ...webhook.commonLabels }).filter(
    ([k]) => k !== 'alertname',
  );
  const pairs = entries
    .slice(0, GROUP_LABELS_SHOWN)
    .map(([k, v]) => `*${escapeSlackWithin(k, LABEL_KEY_MAX)}*: ${escapeSlackWithin(v, LABEL_VALUE_MAX)}`);
  if (entries.length > GROUP_LABELS_SHOWN) pairs.push(`+${entries.length - GROUP_LABELS_SHOWN} more`);
  const { firing, resolved } = countAlerts(webhook.alerts);
  const status = [firing > 0 ? `${firing} firing` : '', resolved > 0 ? `${resolved} resolved` : '']
    .filter(Boolean)
    .join(', ');
  const elements = [mrkdwn(status)];
  if (pairs.length > 0) elements.push(mrkdwn(pairs.join('  ·  ')));
  const truncated = webhook.truncatedAlerts ?? 0;
  if (truncated > 0) {
    elements.push(
      mrkdwn(
        `:warning: Alertmanager truncated ${truncated} alert${truncated === 1 ? '' : 's'} (max_alerts): not listed here`,
      ),
    );
  }
  return elements;
}

/** One alert as one mrkdwn section text, at most SLACK_LIMITS.sectionText long. */
export function alertText(alert: AlertmanagerAlert, common: Readonly<Record<string, string>>): string {
  const { summary, description } = alert.annotations;
  const message = alert.annotations.message;
  const hasText = Boolean(summary || description || message);
  const icon = alert.status === 'firing' ? ':fire:' : ':white_check_mark:';
  const title = summary || message || alert.labels.alertname || 'alert';
  const body = summary ? description || message : description;

  // Its own labels: those the group does not share. Without any text, the labels are all
  // there is to say what the alert is about, so all but alertname are shown.
  let own = Object.entries(alert.labels).filter(([k, v]) => k !== 'alertname' && common[k] !== v);
  if (own.length === 0 && !hasText) own = Object.entries(alert.labels).filter(([k]) => k !== 'alertname');
  const labelParts = own
    .slice(0, OWN_LABELS_SHOWN)
    .map(([k, v]) => `\`${escapeSlackWithin(k, LABEL_KEY_MAX)}=${escapeSlackWithin(v, LABEL_VALUE_MAX)}\``);
  if (own.length > OWN_LABELS_SHOWN) labelParts.push(`+${own.length - OWN_LABELS_SHOWN} more labels`);

  const meta = [
    when(alert),
    slackLink(alert.generatorURL, 'Source', SOURCE_URL_MAX),
    slackLink(alert.annotations.runbook_url ?? alert.annotations.runbook, 'Runbook', RUNBOOK_URL_MAX),
  ].filter((p): p is string => p !== undefined && p !== '');

  // Links and times are ours and short; the alert's own text gets what is left.
  const metaLine = meta.join(' · ');
  const head = `${icon} *${escapeSlackWithin(title, 250)}*`;
  const labelsLine = labelParts.join(' ');
  const fixed = [head, labelsLine, metaLine].filter(Boolean);
  const room = SLACK_LIMITS.sectionText - fixed.join('\n').length - 1;
  const bodyText = body ? escapeSlackWithin(body, Math.min(1_000, room)) : '';
  return [head, bodyText, labelsLine, metaLine].filter(Boolean).join('\n');
}

function when(alert: AlertmanagerAlert): string | undefined {
  const at = alert.status === 'firing' ? alert.startsAt : alert.endsAt;
  const t = at === undefined ? Number.NaN : Date.parse(at);
  // Alertmanager sends 0001-01-01 for "not yet ended".
  if (Number.isNaN(t) || t <= 0) return undefined;
  const stamp = new Date(t).toISOString().slice(0, 16).replace('T', ' ');
  return `${alert.status === 'firing' ? 'since' : 'resolved'} ${stamp} UTC`;
}
