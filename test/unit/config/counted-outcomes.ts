import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import * as z from 'zod';

/**
 * What the functions' code counts as outcomes (metric OUTCOME_METRIC), read from the code and
 * from the metric lines the functions really wrote (test/fixtures/recorded-responses.json) —
 * for the template tests, which check that alarms wait for things that can happen.
 */
const ROOT = new URL('../../../', import.meta.url).pathname;

/** Every .ts file of a function. */
function sourcesOf(fn: string): string[] {
  const dir = join(ROOT, 'functions', fn);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function insideType(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) if (ts.isTypeNode(n)) return true;
  return false;
}

/**
 * What a function's code can count, read from its syntax (comments and types do not count): the
 * string values it uses, and the kinds of its outcome objects — object literals with a `kind`
 * literal and a `reason`.
 */
export function codeOf(fn: string): { values: Set<string>; outcomeKinds: Set<string>; countBy: boolean } {
  const values = new Set<string>();
  const outcomeKinds = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) && !insideType(node)) values.add(node.text);
    if (ts.isObjectLiteralExpression(node)) {
      const named = (name: string) =>
        node.properties.find((p) => p.name && ts.isIdentifier(p.name) && p.name.text === name);
      const kind = named('kind');
      if (kind && ts.isPropertyAssignment(kind) && ts.isStringLiteral(kind.initializer) && named('reason')) {
        outcomeKinds.add(kind.initializer.text);
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const file of sourcesOf(fn)) {
    visit(ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true));
  }
  // The handler's `countBy` counts by something else than the outcome's own kind and reason (health-sweep: finding kind and action).
  const countBy = readFileSync(join(ROOT, 'functions', fn, 'handler.ts'), 'utf8').includes('countBy');
  return { values, outcomeKinds, countBy };
}

const recordedSchema = z.record(
  z.string(),
  z.object({ records: z.array(z.record(z.string(), z.unknown())) }),
);
const emfRecord = z.object({
  metrics: z.array(
    z.object({ namespace: z.string(), names: z.array(z.string()), dimensions: z.array(z.string()) }),
  ),
  function: z.string(),
  kind: z.string(),
  reason: z.string(),
});

/** The outcome metric lines the functions really wrote (test/fixtures/recorded-responses.json). */
export function recordedEmf() {
  const recorded = recordedSchema.parse(
    JSON.parse(readFileSync(join(ROOT, 'test/fixtures/recorded-responses.json'), 'utf8')),
  );
  return Object.values(recorded).flatMap((r) =>
    r.records.flatMap((line) => {
      const emf = emfRecord.safeParse(line);
      return emf.success ? [emf.data] : [];
    }),
  );
}

export const triple = (fn: string, kind: string, reason: string) => `${fn} ${kind} ${reason}`;

/**
 * Whether the code can count (function, kind, reason): a line the function wrote in the recorded
 * responses, or else — for a refusal no recorded request provokes — a function that counts its
 * outcomes by their own kind and reason (no countBy), has outcome objects of that kind, and uses
 * the reason as a value in its code.
 */
export function codeCanCount(fn: string, kind: string, reason: string): boolean {
  if (recordedEmf().some((e) => triple(e.function, e.kind, e.reason) === triple(fn, kind, reason)))
    return true;
  const code = codeOf(fn);
  return !code.countBy && code.outcomeKinds.has(kind) && code.values.has(reason);
}
