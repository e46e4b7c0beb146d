import { describe, expect, it } from 'vitest';
import { classifyNodeDispatch, type NodeReplacement } from '../../../../functions/health-sweep/down-nodes';
import { FakeNodes } from '../../../support/fake-nodes';

// A node that stays down is dispatched again every grace window; a person hears about it once.

const node = new FakeNodes().add('w1', { state: 'down' }).node('w1');
const plan = (first: boolean): NodeReplacement => ({
  node,
  base: { kind: 'node-down', node: node.id, subject: 'w1', since: node.updatedAt.toISOString() },
  what: 'worker w1 is down',
  first,
});

describe('classifyNodeDispatch: told once per series', () => {
  it('tells a person when replace-node cannot be dispatched, on the first window only', () => {
    const sent = { dispatched: false as const, detail: 'no replace-node function to send to' };
    expect(classifyNodeDispatch(plan(true), sent)).toMatchObject({
      finding: { action: 'not-dispatched', severity: 'warning' },
      notice: { severity: 'warning', title: 'Node w1 is down' },
    });
    const again = classifyNodeDispatch(plan(false), sent);
    expect(again).toEqual({ finding: expect.objectContaining({ action: 'not-dispatched' }) });
  });

  it('tells a person when replace-node was dispatched, on the first window only', () => {
    const sent = { dispatched: true as const, to: 'replace-node' };
    expect(classifyNodeDispatch(plan(true), sent).notice).toMatchObject({ severity: 'info' });
    expect(classifyNodeDispatch(plan(false), sent)).toEqual({
      finding: expect.objectContaining({ action: 'dispatched', detail: expect.stringContaining(' again;') }),
    });
  });
});
