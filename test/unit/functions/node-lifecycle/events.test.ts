import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, parseLifecycleRequest } from '../../../../functions/node-lifecycle/events';
import { ValidationError } from '../../../../shared/domain/errors';
import { fixture, GROUP, W1 } from './support';

describe('node-lifecycle events', () => {
  it('reads each AWS event of the fixtures into what it means', () => {
    expect(parseLifecycleRequest(fixture('terminate-hook.json'))).toEqual({
      kind: 'event',
      event: {
        id: '782d5b4c-0f6f-1fd6-9d62-ecf6aed0a470',
        kind: 'terminate-hook',
        instance: W1,
        group: GROUP,
        hook: 'swarm-reflex-drain',
      },
    });
    expect(parseLifecycleRequest(fixture('launch-hook.json'))).toMatchObject({
      event: { kind: 'launch-hook', instance: 'i-0a1b2c3d4e5f60009', hook: 'swarm-reflex-join' },
    });
    expect(parseLifecycleRequest(fixture('spot-interruption.json'))).toMatchObject({
      event: { kind: 'spot', instance: W1, action: 'terminate' },
    });
    expect(parseLifecycleRequest(fixture('rebalance-recommendation.json'))).toMatchObject({
      event: { kind: 'rebalance', instance: W1 },
    });
    expect(parseLifecycleRequest(fixture('state-change-shutting-down.json'))).toMatchObject({
      event: { kind: 'state-change', instance: W1, state: 'shutting-down' },
    });
    expect(parseLifecycleRequest(fixture('health-scheduled-change.json'))).toMatchObject({
      event: {
        kind: 'scheduled',
        code: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
        instances: [W1],
        window: { start: new Date('2026-12-08T08:00:00Z'), end: new Date('2026-12-08T10:00:00Z') },
      },
    });
  });

  it('takes the schedule, {"reconcile": true}, {} and {"dryRun": true} as the reconcile pass', () => {
    expect(parseLifecycleRequest(fixture('schedule.json'))).toEqual({ kind: 'reconcile', dryRun: false });
    expect(parseLifecycleRequest(fixture('reconcile.json'))).toEqual({ kind: 'reconcile', dryRun: false });
    expect(parseLifecycleRequest(fixture('dry-run.json'))).toEqual({ kind: 'reconcile', dryRun: true });
    expect(parseLifecycleRequest({ dryRun: true })).toEqual({ kind: 'reconcile', dryRun: true });
    expect(parseLifecycleRequest(undefined)).toEqual({ kind: 'reconcile', dryRun: false });
  });

  it('reads an AWS Health event that is not an EC2 scheduled change as one to ignore', () => {
    const event = fixture('health-scheduled-change.json') as { detail: Record<string, unknown> };
    event.detail.eventTypeCategory = 'issue';
    expect(parseLifecycleRequest(event)).toMatchObject({ event: { kind: 'health-other' } });
  });

  /** A fixture with one field (`detail.x`, or a top-level key) set to a value; undefined deletes it. */
  const withField = (name: string, path: string, value: unknown) => {
    const event = fixture(name) as Record<string, unknown>;
    const [top = '', inner] = path.split('.');
    const target = (inner === undefined ? event : event[top]) as Record<string, unknown>;
    const key = inner ?? top;
    if (value === undefined) Reflect.deleteProperty(target, key);
    else target[key] = value;
    return event;
  };

  it.each([
    [
      'a wrong source',
      withField('spot-interruption.json', 'source', 'aws.s3'),
      /unexpected event: source "aws.s3"/,
    ],
    [
      'a wrong detail-type',
      withField('terminate-hook.json', 'detail-type', 'EC2 Instance Launch Successful'),
      /unexpected event/,
    ],
    [
      'a missing instance ID',
      withField('spot-interruption.json', 'detail.instance-id', undefined),
      /not a valid/,
    ],
    [
      'an instance ID that is not one',
      withField('rebalance-recommendation.json', 'detail.instance-id', '../../nodes'),
      /not a valid/,
    ],
    [
      'a number for the group',
      withField('terminate-hook.json', 'detail.AutoScalingGroupName', 7),
      /not a valid/,
    ],
    [
      'a transition that does not match',
      withField('terminate-hook.json', 'detail.LifecycleTransition', 'autoscaling:EC2_INSTANCE_LAUNCHING'),
      /not a valid/,
    ],
    [
      'an unknown EC2 state',
      withField('state-change-shutting-down.json', 'detail.state', 'exploded'),
      /not a valid/,
    ],
    [
      'a health time that is not one',
      withField('health-scheduled-change.json', 'detail.startTime', 'soon'),
      /not a valid/,
    ],
    ['no detail', withField('spot-interruption.json', 'detail', undefined), /expected an EventBridge event/],
    [
      'a huge detail',
      withField('spot-interruption.json', 'detail.padding', 'x'.repeat(MAX_EVENT_BYTES)),
      /EventBridge events are at most/,
    ],
    ['a string', 'reconcile', /expected an EventBridge event/],
    ['reconcile with a typo', { reconcile: 'yes' }, /expected an EventBridge event/],
  ])('refuses %s with a ValidationError that says why', (_what, event, message) => {
    expect(() => parseLifecycleRequest(event)).toThrow(ValidationError);
    expect(() => parseLifecycleRequest(event)).toThrow(message);
  });
});
