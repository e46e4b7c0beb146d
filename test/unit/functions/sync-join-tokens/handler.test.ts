import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

process.env.SETTINGS_PREFIX = '/swarm-reflex/unit';
const { parseSyncEvent } = await import('../../../../functions/sync-join-tokens/handler');
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../../events/sync-join-tokens/${name}`, import.meta.url), 'utf8'));

describe('sync-join-tokens event', () => {
  it('accepts the schedule event, {} and {"rotate": true}', () => {
    expect(parseSyncEvent(fixture('schedule.json'))).toEqual({ rotate: false, dryRun: false });
    expect(parseSyncEvent({})).toEqual({ rotate: false, dryRun: false });
    expect(parseSyncEvent(fixture('rotate.json'))).toEqual({ rotate: true, dryRun: false });
  });

  it.each([
    [{ rotate: 'yes' }],
    [{ source: 'aws.events' }],
    [[1, 2]],
    ['rotate'],
    [{ rotate: true, extra: 1 }],
  ])('refuses %o with a message', (event) => {
    expect(() => parseSyncEvent(event)).toThrow(/expected a schedule event/);
  });
});
