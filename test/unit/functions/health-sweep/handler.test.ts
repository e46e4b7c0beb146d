import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeHandler, parseSweepEvent, sweepTime } from '../../../../functions/health-sweep/handler';
import { reportOnlyDispatcher } from '../../../../shared/adapters/lambda';
import { localContext } from '../../../../shared/edge/middleware/invocation-context';
import { startChatReceiver } from '../../../harness/chat-receiver';
import { captureEmf } from '../../../support/emf';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { FakeServices } from '../../../support/fake-services';
import { memoryLogger, realNotifier } from '../../../support/real-deps';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../../events/health-sweep/${name}`, import.meta.url), 'utf8'));

const NOW = new Date('2026-11-24T12:00:07Z');

function handlerWith(nodes = new FakeNodes().add('m1', { role: 'manager' }).add('w1')) {
  let reads = 0;
  const counted = {
    listNodes: async () => {
      reads++;
      return nodes.listNodes();
    },
    updateNode: nodes.updateNode.bind(nodes),
    removeNode: nodes.removeNode.bind(nodes),
  };
  const { lines, logger } = memoryLogger();
  const handler = makeHandler({
    logger,
    dryRun: false,
    nodes: counted,
    services: new FakeServices(),
    tasks: nodes,
    group: undefined,
    dispatcher: reportOnlyDispatcher('unit test'),
    joinParameters: { notChecked: 'unit test' },
    notifier: recordingNotifier(),
    clock: { now: () => NOW },
    settings: { nodeDownGraceSeconds: 300, sweepIntervalSeconds: 60, underReplicatedSeconds: 300 },
  });
  return { handler, lines, reads: () => reads };
}

describe('health-sweep event', () => {
  it('accepts the schedule event (with its time), {}, {"dryRun": true} and no event', () => {
    expect(parseSweepEvent(fixture('schedule.json'))).toEqual({
      dryRun: false,
      scheduledAt: new Date('2026-11-24T12:00:00Z'),
    });
    expect(parseSweepEvent({})).toEqual({ dryRun: false, scheduledAt: undefined });
    expect(parseSweepEvent(fixture('dry-run.json'))).toEqual({ dryRun: true, scheduledAt: undefined });
    expect(parseSweepEvent(null)).toEqual({ dryRun: false, scheduledAt: undefined });
    expect(parseSweepEvent(undefined)).toEqual({ dryRun: false, scheduledAt: undefined });
  });

  it.each([
    [{ dryRun: 'true' }],
    [{ dryRun: 1 }],
    [{ dryRun: true, node: 'w1' }],
    [{ source: 'aws.events', 'detail-type': 'Scheduled Event' }],
    [{ source: 'aws.events', 'detail-type': 'Scheduled Event', time: 'yesterday' }],
    [{ source: 'aws.events', 'detail-type': 'Scheduled Event', time: '2026-11-24T12:00:00+25:00' }],
    [{ source: 'evil.events', 'detail-type': 'Scheduled Event', time: '2026-11-24T12:00:00Z' }],
    [JSON.parse('{"__proto__": {"dryRun": false}}')],
    [JSON.parse('{"constructor": {"prototype": {"dryRun": false}}}')],
    [[{ dryRun: true }]],
    ['{"dryRun": true}'],
    [42],
    [true],
    [{ dryRun: true, ['x'.repeat(100_000)]: 1 }],
  ])('refuses %o with a message that says what it accepts', (event) => {
    expect(() => parseSweepEvent(event)).toThrow('expected a schedule event, {} or {"dryRun": true}');
  });

  it('refuses any object with a key other than dryRun (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== 'dryRun' && k !== 'source'),
          fc.jsonValue(),
          { minKeys: 1 },
        ),
        (event) => {
          expect(() => parseSweepEvent(event)).toThrow(/expected a schedule event/);
        },
      ),
    );
  });

  it('uses the scheduled time as the sweep time, unless it is far from now', () => {
    const scheduled = new Date('2026-11-24T12:00:00Z');
    expect(sweepTime(scheduled, NOW)).toBe(scheduled);
    expect(sweepTime(undefined, NOW)).toBe(NOW);
    expect(sweepTime(new Date('2026-11-24T11:00:00Z'), NOW)).toBe(NOW);
    expect(sweepTime(new Date('2026-11-24T13:00:00Z'), NOW)).toBe(NOW);
  });
});

describe('health-sweep handler', () => {
  it('reads nothing from Docker for an invalid event, and fails the invocation with the message', async () => {
    const h = handlerWith();
    await expect(h.handler({ dryRun: 'yes' })).rejects.toThrow('expected a schedule event');
    expect(h.reads()).toBe(0);
  });

  it('returns the findings as outcomes, counted by kind and action, with the schedule time as the sweep time', async () => {
    const nodes = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager' })
      .add('w1', { state: 'down', updatedAt: new Date('2026-11-24T11:54:30Z') });
    const h = handlerWith(nodes);
    const { result, emf } = await captureEmf(() => h.handler(fixture('schedule.json')));
    expect(result).toMatchObject({ dryRun: false, at: '2026-11-24T12:00:00.000Z' });
    expect(result.outcomes).toEqual([
      expect.objectContaining({ kind: 'node-down', subject: 'w1', action: 'not-dispatched' }),
      expect.objectContaining({ kind: 'join-tokens', action: 'not-checked' }),
    ]);
    const metrics = emf.map((l) => `${l.kind}/${l.reason}`);
    expect(metrics.sort()).toEqual(['join-tokens/not-checked', 'node-down/not-dispatched']);
    const audit = h.lines.filter((l) => l.audit === true);
    expect(audit).toHaveLength(2);
  });

  it('tells about many findings within the time Lambda gives it, even with a slow chat service', async () => {
    const chat = await startChatReceiver();
    try {
      chat.delay(1_000);
      const nodes = new FakeNodes()
        .add('m1', { role: 'manager' })
        .add('m2', { role: 'manager' })
        .add('m3', { role: 'manager' });
      for (let i = 1; i <= 6; i++)
        nodes.add(`w${i}`, { state: 'down', updatedAt: new Date('2026-11-24T11:54:30Z') });
      const { logger } = memoryLogger();
      const handler = makeHandler({
        logger,
        dryRun: false,
        nodes,
        services: new FakeServices(),
        tasks: nodes,
        group: undefined,
        dispatcher: reportOnlyDispatcher('unit test'),
        joinParameters: { notChecked: 'unit test' },
        notifier: realNotifier('health-sweep', { webhook: chat.url }),
        clock: { now: () => NOW },
        settings: { nodeDownGraceSeconds: 300, sweepIntervalSeconds: 60, underReplicatedSeconds: 300 },
      });
      // Lambda stops a function at its timeout: a sweep still sending then is retried with the
      // same scheduled time, and says everything again. Six messages of 1 s each, 3 s left.
      const remainingMs = 3_000;
      const ended = Date.now() + remainingMs;
      const context = { ...localContext('test'), getRemainingTimeInMillis: () => ended - Date.now() };
      const timedOut = new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), remainingMs));
      const result = await Promise.race([handler(fixture('schedule.json'), context), timedOut]);
      expect(result).not.toBe('timed out');
      expect(chat.messages).toHaveLength(6);
    } finally {
      await chat.close();
    }
  });
});
