import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../functions/health-sweep/health-sweep';
import { findingsTable, whatWasDone } from '../../../scripts/local/findings-table';

const now = new Date('2026-11-24T12:00:00Z');
const findings: Finding[] = [
  {
    kind: 'node-down',
    node: 'n1',
    severity: 'info',
    subject: 'w2',
    since: '2026-11-24T11:54:30.000Z',
    detail: 'worker w2 is down',
    action: 'dry-run',
  },
  {
    kind: 'under-replicated',
    service: 's1',
    running: 0,
    desired: 2,
    severity: 'warning',
    subject: 'reports',
    since: '2026-11-24T11:59:15.000Z',
    detail: 'reports runs 0 of 2 tasks',
    action: 'watching',
  },
  {
    kind: 'join-tokens',
    severity: 'info',
    subject: 'manager-addresses',
    since: null,
    detail: 'not checked: no AWS',
    action: 'not-checked',
  },
];

describe('npm run sweep table', () => {
  it('aligns every column and numbers the details like the rows', () => {
    const text = findingsTable({ dryRun: true, at: now.toISOString(), outcomes: findings }, now);
    const [header, ...rest] = text.split('\n');
    const rows = rest.slice(0, 3);
    for (const column of ['KIND', 'SEVERITY', 'SUBJECT', 'SINCE', 'DONE']) {
      const at = header?.indexOf(column) ?? -1;
      expect(at).toBeGreaterThan(0);
      for (const row of rows) expect(row[at - 1], `${column} in ${row}`).toBe(' ');
    }
    expect(rows[0]).toContain('2026-11-24 11:54:30Z (5 min ago)');
    expect(rows[0]).toMatch(/would dispatch replace-node$/);
    expect(rows[2]).toMatch(/manager-addresses {2}- +not checked$/);
    expect(text).toContain(' 2. reports runs 0 of 2 tasks');
  });

  it('says so when there is nothing to report', () => {
    expect(findingsTable({ dryRun: true, at: now.toISOString(), outcomes: [] }, now)).toMatch(/^No findings/);
  });

  it('has words for what was done for every finding', () => {
    for (const f of findings) expect(whatWasDone(f)).toMatch(/\w/);
  });
});
