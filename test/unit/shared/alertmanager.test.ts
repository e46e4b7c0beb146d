import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import upWebhook from '../../../events/scale-service/webhook-scale-up.json';
import {
  type AlertmanagerAlert,
  type AlertReading,
  parseWebhook,
  readAlerts,
  readScaleLabel,
} from '../../../shared/domain/alerts';
import { PayloadTooLargeError, ValidationError } from '../../../shared/domain/errors';
import { parseJsonBody } from '../../../shared/edge/middleware/json-body';

function parseBytes(bytes: Uint8Array) {
  return parseWebhook(parseJsonBody(Buffer.from(bytes), 4096), 50);
}

describe('webhook parser', () => {
  it('accepts the Alertmanager fixture and keeps fields newer versions add', () => {
    const parsed = parseWebhook({ ...upWebhook, someNewField: { x: 1 } }, 10);
    expect(parsed.alerts[0]?.labels.service).toBe('demo');
    expect((parsed as Record<string, unknown>).someNewField).toEqual({ x: 1 });
  });

  it('never throws anything but a validation or size error, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (bytes) => {
        try {
          parseBytes(bytes);
        } catch (error) {
          expect(error instanceof ValidationError || error instanceof PayloadTooLargeError).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but a validation error, whatever the JSON', () => {
    const alertish = fc.record(
      {
        status: fc.oneof(fc.constantFrom('firing', 'resolved'), fc.string()),
        labels: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
        annotations: fc.jsonValue(),
        fingerprint: fc.oneof(fc.string(), fc.integer()),
      },
      { requiredKeys: [] },
    );
    const webhookish = fc.record(
      {
        version: fc.oneof(fc.constant('4'), fc.jsonValue()),
        status: fc.oneof(fc.constantFrom('firing', 'resolved'), fc.jsonValue()),
        alerts: fc.oneof(fc.array(alertish, { maxLength: 60 }), fc.jsonValue()),
        groupKey: fc.jsonValue(),
        __proto__: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), webhookish), (value) => {
        try {
          const parsed = parseWebhook(value, 50);
          expect(parsed.version).toBe('4');
          expect(parsed.alerts.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as Error).message.length).toBeGreaterThan(10);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses more alerts than the limit without validating them', () => {
    const alerts = Array.from({ length: 51 }, () => ({ nonsense: true }));
    expect(() => parseWebhook({ version: '4', status: 'firing', alerts }, 50)).toThrow(
      /51 alerts; the limit is 50/,
    );
  });

  it('refuses invalid UTF-8', () => {
    expect(() => parseJsonBody(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 100)).toThrow(/not valid UTF-8/);
  });
});

describe("readAlerts, the one walk over a webhook's alerts", () => {
  const parseWord = (w: string) => (w === 'up' ? 1 : undefined);
  /** Reads `service` and `scale` like a function would, so that reasons show what was read. */
  const readOne = (
    labels: Readonly<Record<string, string>>,
    ref: string,
  ): AlertReading<{ ref: string; service: string; scale: number }, string> => {
    const service = labels.service;
    if (!service) return { ignore: 'no-service-label', detail: 'the alert has no service label' };
    const scale = readScaleLabel(labels, parseWord, undefined);
    return 'ignore' in scale ? scale : { read: { ref, service, scale: scale.read } };
  };
  /** Alerts as a caller that skipped validation could hand them over. */
  const hostile = (...alerts: unknown[]) => ({ alerts: alerts as AlertmanagerAlert[] });

  it("reads firing alerts and ignores the rest, each list in the alerts' order, each alert named once", () => {
    const result = readAlerts(
      hostile(
        { status: 'firing', labels: { service: 'a', scale: 'up' }, fingerprint: 'f0' },
        { status: 'resolved', labels: { service: 'b', scale: 'up' }, fingerprint: 'f1' },
        { status: 'firing', labels: { scale: 'up' } },
        { status: 'firing', labels: { service: 'c', scale: 'up' } },
      ),
      readOne,
    );
    expect(result.read).toEqual([
      { ref: 'f0', service: 'a', scale: 1 },
      { ref: '#3', service: 'c', scale: 1 },
    ]);
    expect(result.ignored).toEqual([
      { kind: 'ignored', alert: 'f1', reason: 'resolved', detail: 'only firing alerts are acted on' },
      { kind: 'ignored', alert: '#2', reason: 'no-service-label', detail: 'the alert has no service label' },
    ]);
  });

  it('ignores an alert of a status it does not know as not firing, without reading it', () => {
    let reads = 0;
    const result = readAlerts(
      hostile(
        { status: 'pending', labels: { service: 'a', scale: 'up' } },
        { status: 'FIRING', labels: { service: 'a', scale: 'up' } },
        { labels: { service: 'a', scale: 'up' } },
      ),
      (labels, ref) => {
        reads++;
        return readOne(labels, ref);
      },
    );
    expect(reads).toBe(0);
    expect(result.read).toEqual([]);
    expect(result.ignored.map((o) => o.reason)).toEqual(['resolved', 'resolved', 'resolved']);
  });

  it('reads a missing label set as an empty one: ignored for the label it lacks, never a crash', () => {
    const result = readAlerts(hostile({ status: 'firing' }, { status: 'firing', labels: null }), (labels) =>
      readScaleLabel(labels, parseWord, undefined),
    );
    expect(result.ignored.map((o) => [o.alert, o.reason])).toEqual([
      ['#0', 'no-scale-label'],
      ['#1', 'no-scale-label'],
    ]);
  });

  it('keeps a huge or forged label value and a hostile fingerprint out of refs and details', () => {
    const huge = `up\n{"level":"error"}${'9'.repeat(100_000)}`;
    const result = readAlerts(
      hostile({ status: 'firing', labels: { service: 'a', scale: huge }, fingerprint: '../../x\nforged' }),
      readOne,
    );
    const [ignored] = result.ignored;
    expect(ignored).toMatchObject({ alert: '#0', reason: 'invalid-scale-label' });
    expect(ignored?.detail.length).toBeLessThan(200);
    expect(ignored?.detail).not.toContain('\n');
  });

  it('accounts for every alert exactly once, whatever the alerts', () => {
    const alert = fc.record({
      status: fc.constantFrom('firing', 'resolved', 'unknown'),
      labels: fc.dictionary(fc.constantFrom('service', 'scale', 'x'), fc.string({ maxLength: 300 })),
      fingerprint: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(alert, { maxLength: 30 }), (alerts) => {
        const { read, ignored } = readAlerts(hostile(...alerts), readOne);
        expect(read.length + ignored.length).toBe(alerts.length);
        for (const o of ignored) expect(o.detail.length).toBeLessThan(200);
        const firing = alerts.filter((a) => a.status === 'firing').length;
        expect(ignored.filter((o) => o.reason === 'resolved')).toHaveLength(alerts.length - firing);
      }),
      { numRuns: 300 },
    );
  });
});

describe('readScaleLabel', () => {
  const parseWord = (w: string) => (w === 'up' ? 'step-up' : undefined);

  it('lets the URL override stand in for the label, whatever the label says', () => {
    expect(readScaleLabel({ scale: 'sideways' }, parseWord, 'override')).toEqual({ read: 'override' });
  });

  it('says a missing or empty label is missing, and an unreadable one is invalid', () => {
    expect(readScaleLabel({}, parseWord, undefined)).toMatchObject({ ignore: 'no-scale-label' });
    expect(readScaleLabel({ scale: '' }, parseWord, undefined)).toMatchObject({ ignore: 'no-scale-label' });
    expect(readScaleLabel({ scale: 'sideways' }, parseWord, undefined)).toEqual({
      ignore: 'invalid-scale-label',
      detail: 'scale label "sideways" is not up, down or a non-zero signed integer',
    });
    expect(readScaleLabel({ scale: 'up' }, parseWord, undefined)).toEqual({ read: 'step-up' });
  });
});
