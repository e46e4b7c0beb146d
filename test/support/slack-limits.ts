import { SLACK_LIMITS } from '../../shared/domain/notice';

/**
 * What in a Slack message breaks Block Kit's limits (the ones Slack answers
 * `invalid_blocks` for); empty when the message is within all of them.
 */
export function slackLimitViolations(message: unknown): string[] {
  const problems: string[] = [];
  const m = message as { text?: unknown; blocks?: unknown[]; attachments?: Array<{ blocks?: unknown[] }> };
  const blocks = [...(m.blocks ?? []), ...(m.attachments ?? []).flatMap((a) => a.blocks ?? [])] as Array<{
    type: string;
    text?: { type: string; text: string };
    fields?: Array<{ text: string }>;
    elements?: Array<{ text: string }>;
  }>;
  if (blocks.length > SLACK_LIMITS.blocksPerMessage) problems.push(`${blocks.length} blocks`);
  const text = (where: string, t: { text: string } | undefined, max: number) => {
    if (t === undefined) return;
    if (typeof t.text !== 'string' || t.text.length === 0) problems.push(`${where}: empty text`);
    else if (t.text.length > max) problems.push(`${where}: ${t.text.length} characters (limit ${max})`);
  };
  blocks.forEach((b, i) => {
    const at = `block ${i} (${b.type})`;
    if (b.type === 'header') {
      if (b.text?.type !== 'plain_text') problems.push(`${at}: header text must be plain_text`);
      text(at, b.text, SLACK_LIMITS.headerText);
    } else if (b.type === 'section') {
      if (b.text === undefined && b.fields === undefined) problems.push(`${at}: neither text nor fields`);
      text(at, b.text, SLACK_LIMITS.sectionText);
      if ((b.fields?.length ?? 0) > SLACK_LIMITS.sectionFields)
        problems.push(`${at}: ${b.fields?.length} fields`);
      for (const [j, f] of (b.fields ?? []).entries()) text(`${at} field ${j}`, f, SLACK_LIMITS.fieldText);
    } else if (b.type === 'context') {
      const n = b.elements?.length ?? 0;
      if (n === 0 || n > SLACK_LIMITS.contextElements) problems.push(`${at}: ${n} elements`);
      for (const [j, e] of (b.elements ?? []).entries())
        text(`${at} element ${j}`, e, SLACK_LIMITS.contextText);
    } else if (b.type !== 'divider') {
      problems.push(`${at}: unexpected block type`);
    }
  });
  return problems;
}

/** Every piece of text Slack will show, top-level fallback included. */
export function slackTexts(message: unknown): string[] {
  const texts: string[] = [];
  JSON.stringify(message, (key, value: unknown) => {
    if ((key === 'text' || key === 'fallback') && typeof value === 'string') texts.push(value);
    return value;
  });
  return texts;
}

/** Our own links, `<http…|Label>`; whatever `<` or `>` is left did not come from us. */
export const OWN_LINK = /<https?:\/\/[^\s<>|]+\|(?:Source|Runbook|Alertmanager|Open in Alertmanager)>/g;

/** A UTF-16 surrogate without its other half: what a careless cut leaves behind. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
