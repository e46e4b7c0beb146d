import * as z from 'zod';
import { ValidationError } from '../../shared/domain/errors';
import type { Window } from '../../shared/domain/leaving';
import { quote } from '../../shared/domain/names';

/**
 * The events node-lifecycle takes, as EventBridge delivers them (AWS's documented shapes;
 * samples in events/node-lifecycle/). Strict about what is read, loose about the rest (AWS
 * adds fields), every size bounded. Anything else is a ValidationError: the invocation fails
 * and nothing is read or changed.
 */

/** EventBridge's own limit on an event; a bigger one is not from AWS. */
export const MAX_EVENT_BYTES = 256 * 1024;

const instanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance ID');
const groupName = z.string().regex(/^[\w\-.:/ @+=]{1,255}$/, 'must be an Auto Scaling group name');
const hookName = z.string().regex(/^[A-Za-z0-9\-_/]{1,255}$/, 'must be a lifecycle hook name');
/** AWS Health writes times as RFC 1123 (`Sat, 05 Jun 2016 15:10:09 GMT`); ISO is accepted too. */
const healthTime = z
  .string()
  .max(64)
  .refine((t) => !Number.isNaN(Date.parse(t)), 'must be a time')
  .transform((t) => new Date(Date.parse(t)));

const envelope = z.looseObject({
  source: z.string().max(64),
  'detail-type': z.string().max(128),
  id: z.string().max(128).default(''),
  detail: z.looseObject({}),
});

const hookDetail = (transition: string) =>
  z.looseObject({
    AutoScalingGroupName: groupName,
    LifecycleHookName: hookName,
    EC2InstanceId: instanceId,
    LifecycleTransition: z.literal(transition),
    LifecycleActionToken: z.string().max(128).optional(),
    NotificationMetadata: z.string().max(1_023).optional(),
  });

const details = {
  'aws.autoscaling/EC2 Instance-terminate Lifecycle Action': hookDetail(
    'autoscaling:EC2_INSTANCE_TERMINATING',
  ).transform((d) => ({
    kind: 'terminate-hook' as const,
    instance: d.EC2InstanceId,
    group: d.AutoScalingGroupName,
    hook: d.LifecycleHookName,
  })),
  'aws.autoscaling/EC2 Instance-launch Lifecycle Action': hookDetail(
    'autoscaling:EC2_INSTANCE_LAUNCHING',
  ).transform((d) => ({
    kind: 'launch-hook' as const,
    instance: d.EC2InstanceId,
    group: d.AutoScalingGroupName,
    hook: d.LifecycleHookName,
  })),
  'aws.ec2/EC2 Spot Instance Interruption Warning': z
    .looseObject({ 'instance-id': instanceId, 'instance-action': z.enum(['terminate', 'stop', 'hibernate']) })
    .transform((d) => ({ kind: 'spot' as const, instance: d['instance-id'], action: d['instance-action'] })),
  'aws.ec2/EC2 Instance Rebalance Recommendation': z
    .looseObject({ 'instance-id': instanceId })
    .transform((d) => ({ kind: 'rebalance' as const, instance: d['instance-id'] })),
  'aws.ec2/EC2 Instance State-change Notification': z
    .looseObject({
      'instance-id': instanceId,
      state: z.enum(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']),
    })
    .transform((d) => ({ kind: 'state-change' as const, instance: d['instance-id'], state: d.state })),
  'aws.health/AWS Health Event': z
    .looseObject({
      service: z.string().max(64),
      eventTypeCode: z.string().max(256),
      eventTypeCategory: z.string().max(64),
      startTime: healthTime.optional(),
      endTime: healthTime.optional(),
      affectedEntities: z
        .array(z.looseObject({ entityValue: z.string().max(1_224) }))
        .max(500)
        .default([]),
    })
    .transform((d) => toHealth(d)),
} as const;

function toHealth(d: {
  service: string;
  eventTypeCode: string;
  eventTypeCategory: string;
  startTime?: Date | undefined;
  endTime?: Date | undefined;
  affectedEntities: Array<{ entityValue: string }>;
}) {
  const code = d.eventTypeCode;
  if (d.service !== 'EC2' || d.eventTypeCategory !== 'scheduledChange' || d.startTime === undefined) {
    const what = `${d.service} ${d.eventTypeCategory} ${code}`;
    return {
      kind: 'health-other' as const,
      detail: `${what}: not an EC2 scheduled change with a start time`,
    };
  }
  const window: Window = { start: d.startTime, end: d.endTime };
  const instances = d.affectedEntities
    .map((e) => e.entityValue)
    .filter((v) => instanceId.safeParse(v).success);
  return { kind: 'scheduled' as const, code, window, instances: [...new Set(instances)] };
}

type Details = typeof details;
export type LifecycleEvent = { id: string } & z.output<Details[keyof Details]>;

export type LifecycleRequest =
  | { kind: 'event'; event: LifecycleEvent }
  /** The every-minute pass (or a direct `{"reconcile": true}`): finishes what the events started. */
  | { kind: 'reconcile'; dryRun: boolean };

const reconcileEvent = z.union([
  z
    .looseObject({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') })
    .transform(() => ({ kind: 'reconcile' as const, dryRun: false })),
  z
    .strictObject({ reconcile: z.literal(true).optional(), dryRun: z.boolean().optional() })
    .transform((e) => ({ kind: 'reconcile' as const, dryRun: e.dryRun === true })),
]);

const issues = (error: z.ZodError) =>
  error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(event)'} ${i.message}`);

export function parseLifecycleRequest(event: unknown): LifecycleRequest {
  const size = JSON.stringify(event ?? {})?.length ?? 0;
  if (size > MAX_EVENT_BYTES) {
    throw new ValidationError(`event is ${size} bytes; EventBridge events are at most ${MAX_EVENT_BYTES}`);
  }
  const scheduled = reconcileEvent.safeParse(event ?? {});
  if (scheduled.success) return scheduled.data;
  const outer = envelope.safeParse(event);
  if (!outer.success) {
    throw new ValidationError(
      'expected an EventBridge event (lifecycle hook, Spot interruption, rebalance recommendation, AWS Health, EC2 state change), a schedule event, {"reconcile": true} or {"dryRun": true}',
      issues(outer.error),
    );
  }
  const key = `${outer.data.source}/${outer.data['detail-type']}`;
  const schema = (details as Record<string, z.ZodType<Omit<LifecycleEvent, 'id'>>>)[key];
  if (!schema) {
    throw new ValidationError(
      `unexpected event: source ${quote(outer.data.source)}, detail-type ${quote(outer.data['detail-type'])}`,
    );
  }
  const detail = schema.safeParse(outer.data.detail);
  if (!detail.success) {
    throw new ValidationError(`not a valid ${quote(outer.data['detail-type'])} event`, issues(detail.error));
  }
  return { kind: 'event', event: { id: outer.data.id, ...detail.data } as LifecycleEvent };
}
