import { duration, type Finding, type SweepResult } from '../../functions/health-sweep/health-sweep';

type ActionKey = Finding extends infer F
  ? F extends { kind: infer K extends string; action: infer A extends string }
    ? `${K}/${A}`
    : never
  : never;

/** What the sweep did, in a few words; every kind/action pair has one (the compiler checks). */
const done: Record<ActionKey, string> = {
  'node-down/watching': 'watching (within grace)',
  'node-down/dispatched': 'replace-node dispatched',
  'node-down/not-dispatched': 'nothing dispatched',
  'node-down/dispatch-failed': 'dispatch FAILED',
  'node-down/not-due': 'none (once per grace window)',
  'node-down/leaving': 'none (being scaled in)',
  'node-down/dry-run': 'would dispatch replace-node',
  'node-down/paused': 'none (paused; would dispatch replace-node)',
  'node-down/excluded': 'none (excluded by a person)',
  'node-down/maintenance': 'none (in maintenance)',
  'quorum/watching': 'watching (not marked down yet)',
  'quorum/notified': 'notified',
  'quorum/notified-earlier': 'none (told when it began)',
  'quorum/dry-run': 'would notify',
  'under-replicated/watching': 'watching (below threshold)',
  'under-replicated/notified': 'notified',
  'under-replicated/notified-earlier': 'none (told when it crossed)',
  'under-replicated/dry-run': 'would notify',
  'scale-in/completed': 'scale-in completed',
  'scale-in/draining': 'waiting for tasks to leave',
  'scale-in/in-progress': 'none (another caller on it)',
  'scale-in/handed-back': 'drain abandoned, node active again',
  'scale-in/failed': 'completion FAILED',
  'scale-in/dry-run': 'would complete the scale-in',
  'scale-in/paused': 'none (paused; would complete the scale-in)',
  'rebalance/force-updated': 'force-updated',
  'rebalance/conflict': 'skipped (changed meanwhile)',
  'rebalance/failed': 'force update FAILED',
  'rebalance/dry-run': 'would force-update',
  'rebalance/paused': 'none (paused; would force-update)',
  'replacement-unfinished/watching': 'watching (its replacement may still run)',
  'replacement-unfinished/dispatched': 'replace-node dispatched to finish it',
  'replacement-unfinished/not-dispatched': 'nothing dispatched',
  'replacement-unfinished/dispatch-failed': 'dispatch FAILED',
  'replacement-unfinished/not-due': 'none (once per grace window)',
  'replacement-unfinished/dry-run': 'would dispatch replace-node',
  'replacement-unfinished/paused': 'none (paused; would dispatch replace-node)',
  'replacement-unfinished/read-failed': 'EC2 read FAILED',
  'join-tokens/dispatched': 'sync-join-tokens dispatched',
  'join-tokens/not-dispatched': 'nothing dispatched',
  'join-tokens/dispatch-failed': 'dispatch FAILED',
  'join-tokens/not-checked': 'not checked',
  'join-tokens/read-failed': 'read FAILED',
  'join-tokens/dry-run': 'would dispatch sync-join-tokens',
  'join-tokens/paused': 'none (paused; would dispatch sync-join-tokens)',
  'paused/paused': 'PAUSED: reports only, acts on nothing',
  'paused/read-failed': 'pause unreadable: reports only, acts on nothing',
};

export function whatWasDone(f: Finding): string {
  return done[`${f.kind}/${f.action}` as ActionKey];
}

function since(f: Finding, now: Date): string {
  if (f.since === null) return '-';
  const t = new Date(f.since);
  if (Number.isNaN(t.getTime())) return f.since;
  return `${t.toISOString().slice(0, 19).replace('T', ' ')}Z (${duration(now.getTime() - t.getTime())} ago)`;
}

/** The findings as an aligned table, then each finding's detail, numbered like the rows. */
export function findingsTable(result: SweepResult, now: Date): string {
  if (result.outcomes.length === 0)
    return 'No findings: nodes, quorum, services and scale-ins are all as they should be.\n';
  const header = ['#', 'KIND', 'SEVERITY', 'SUBJECT', 'SINCE', 'DONE'];
  const rows = result.outcomes.map((f, i) => [
    String(i + 1),
    f.kind,
    f.severity,
    f.subject,
    since(f, now),
    whatWasDone(f),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  const details = result.outcomes.map((f, i) => `${String(i + 1).padStart(2)}. ${f.detail}`);
  return `${[line(header), ...rows.map(line)].join('\n')}\n\n${details.join('\n')}\n`;
}
