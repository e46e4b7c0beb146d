/**
 * Chat messages for people: every action a function takes and every refusal that needs a
 * human. Targets are Slack incoming webhooks and generic JSON webhooks. A failed delivery
 * never fails a remediation: `notify` logs and counts it and returns what happened.
 */
export type Severity = 'info' | 'warning' | 'critical';

export interface Notice {
  severity: Severity;
  /** One line: what happened, to what. */
  title: string;
  /** Details, and for refusals what a person should do. Plain text. */
  text: string;
  fields?: Record<string, string>;
}

export interface ChatTarget {
  kind: 'slack' | 'webhook';
  url: string;
}

export interface Notifier {
  notify(notice: Notice): Promise<{ delivered: number; failed: number }>;
}

/**
 * Block Kit's limits. Slack rejects a message that breaks one (`invalid_blocks`), so every
 * message is built within them. Lengths here are UTF-16 code units, which is never fewer than
 * the characters Slack counts, so staying under them in JavaScript stays under them in Slack.
 */
export const SLACK_LIMITS = Object.freeze({
  blocksPerMessage: 50,
  sectionText: 3_000,
  sectionFields: 10,
  fieldText: 2_000,
  headerText: 150,
  contextElements: 10,
  contextText: 3_000,
});
export const SLACK_SECTION_LIMIT = SLACK_LIMITS.sectionText;
const colours: Record<Severity, string> = { info: '#2eb67d', warning: '#ecb22e', critical: '#e01e5a' };

/** Slack treats &, < and > as control characters in mrkdwn; everything else is shown as is. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Cuts between user-perceived characters, so an emoji, a flag or a letter with its accents
// is kept whole or dropped whole, never split into broken halves.
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function cutWithin(text: string, max: number, map: (piece: string) => string): string {
  const whole = map(text);
  if (whole.length <= max) return whole;
  if (max < 1) return '';
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    const piece = map(segment);
    if (out.length + piece.length > max - 1) break;
    out += piece;
  }
  return `${out}…`;
}

/** At most `max` UTF-16 code units, ending with … when cut; never splits a character. */
export function truncate(text: string, max: number): string {
  return cutWithin(text, max, (t) => t);
}

/**
 * Escapes for Slack, then fits in `max`: the cut is made on the original text, so it never
 * falls inside an entity (`&am…`) or a character.
 */
export function escapeSlackWithin(text: string, max: number): string {
  return cutWithin(text, max, escapeSlack);
}

/**
 * A mrkdwn link `<url|label>`, or undefined unless `url` is an http(s) URL of at most
 * `maxUrl` characters. The URL is normalised by the URL parser (which percent-encodes <, >,
 * spaces and quotes); `|` would end the URL early, so it is encoded too.
 */
export function slackLink(url: string | undefined, label: string, maxUrl = 1_000): string | undefined {
  if (url === undefined || url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  const href = escapeSlack(parsed.href.replace(/\|/g, '%7C'));
  if (href.length > maxUrl) return undefined;
  return `<${href}|${escapeSlack(label)}>`;
}

export function slackMessage(source: string, notice: Notice): unknown {
  const fields = Object.entries(notice.fields ?? {}).slice(0, 10);
  const header = `${notice.severity === 'critical' ? ':rotating_light: ' : ''}*${escapeSlackWithin(notice.title, 300)}*`;
  return {
    // Shown as the message itself (the blocks are in an attachment), so escaped like them.
    text: escapeSlackWithin(`[${notice.severity.toUpperCase()}] ${notice.title}`, 300),
    attachments: [
      {
        color: colours[notice.severity],
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: `${header}\n${escapeSlackWithin(notice.text, SLACK_SECTION_LIMIT - header.length - 1)}`,
            },
          },
          ...(fields.length > 0
            ? [
                {
                  type: 'section',
                  fields: fields.map(([k, v]) => ({
                    type: 'mrkdwn',
                    text: `*${escapeSlackWithin(k, 100)}*\n${escapeSlackWithin(v, SLACK_LIMITS.fieldText - 110)}`,
                  })),
                },
              ]
            : []),
          { type: 'context', elements: [{ type: 'mrkdwn', text: `swarm-reflex · ${escapeSlack(source)}` }] },
        ],
      },
    ],
  };
}

export function webhookMessage(source: string, notice: Notice, now: Date): unknown {
  return { source: 'swarm-reflex', function: source, time: now.toISOString(), ...notice };
}
