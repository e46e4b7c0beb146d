/**
 * A copy of a Prometheus rule file whose alerts wait less: every alerting rule's `for:`
 * divided by a factor, nothing else changed (the YAML is rewritten node by node, so the
 * expressions, labels, annotations and comments stay exactly as shipped).
 */
import { isMap, isScalar, parseDocument, visit } from 'yaml';

export interface ShortenedDelay {
  alert: string;
  from: string;
  to: string;
}

/** Prometheus' duration units, largest first, as model.ParseDuration reads them. */
const UNITS_MS: ReadonlyArray<readonly [string, number]> = [
  ['y', 365 * 24 * 3_600_000],
  ['w', 7 * 24 * 3_600_000],
  ['d', 24 * 3_600_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds of a Prometheus duration such as `2m` or `1h30m`. */
export function durationMs(text: string): number {
  const match = DURATION.exec(text);
  if (!match || text === '') throw new Error(`not a Prometheus duration: ${JSON.stringify(text)}`);
  return UNITS_MS.reduce((total, [, ms], i) => total + Number(match[i + 1] ?? 0) * ms, 0);
}

/** The rule file with each alert's `for:` divided by `factor` (rounded to whole milliseconds). */
export function shortenAlertDelays(
  source: string,
  factor: number,
): { yaml: string; shortened: ShortenedDelay[] } {
  const doc = parseDocument(source);
  if (doc.errors.length > 0) throw new Error(`not YAML: ${doc.errors[0]?.message}`);
  const shortened: ShortenedDelay[] = [];
  visit(doc, {
    Map(_, rule) {
      const alert = rule.get('alert');
      const delay = rule.get('for', true);
      if (typeof alert !== 'string' || !isScalar(delay)) return;
      const from = String(delay.value);
      const to = `${Math.round(durationMs(from) / factor)}ms`;
      delay.value = to;
      shortened.push({ alert, from, to });
    },
  });
  return { yaml: doc.toString(), shortened };
}

/** The rules as data with every alert's `for:` left out: what must not differ between the two files. */
export function withoutAlertDelays(source: string): unknown {
  const doc = parseDocument(source);
  visit(doc, {
    Map(_, rule) {
      if (isMap(rule) && rule.has('alert')) rule.delete('for');
    },
  });
  return doc.toJS();
}
