import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import upWebhook from '../../../events/scale-service/webhook-scale-up.json';
import { parseWebhook } from '../../../shared/domain/alerts';
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
