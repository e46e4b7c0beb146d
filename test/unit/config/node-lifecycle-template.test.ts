import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseSettings } from '../../../shared/config/settings';
import { packagedTemplate, PACKAGE_STAGE as STAGE } from './packaged-template';

/**
 * What serverless.yml deploys for node-lifecycle, read from the CloudFormation template `sls
 * package` generates: the EventBridge rules that invoke it, its role, its failure destination,
 * its settings. The least-privilege proof (test/iam) evaluates the role against the calls the
 * function makes; this pins its shape, and the rules.
 */
const ROOT = new URL('../../../', import.meta.url).pathname;
const FUNCTION = 'node-lifecycle';
/** What only node-lifecycle may do. */
const LIFECYCLE_ACTIONS = [
  'autoscaling:CompleteLifecycleAction',
  'autoscaling:RecordLifecycleActionHeartbeat',
  'autoscaling:DescribeLifecycleHooks',
];

const templateSchema = z.object({
  Resources: z.record(
    z.string(),
    z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).default({}) }),
  ),
});
type Template = z.infer<typeof templateSchema>;

const getAtt = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) });
const statementSchema = z.object({
  Effect: z.literal('Allow'),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.unknown(),
  Condition: z.unknown().optional(),
});
type Statement = z.infer<typeof statementSchema>;

let template: Template;
beforeAll(async () => {
  template = templateSchema.parse(await packagedTemplate('api'));
}, 600_000);

const resources = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

/** The logical ID of a function's AWS::Lambda::Function, by its serverless.yml name. */
function functionId(name: string): string {
  const found = resources('AWS::Lambda::Function').find(
    ([, r]) => r.Properties.FunctionName === `swarm-reflex-${STAGE}-${name}`,
  );
  if (!found) throw new Error(`no function ${name} in the template`);
  return found[0];
}

const functionNames = () =>
  resources('AWS::Lambda::Function').map(([, r]) =>
    String(r.Properties.FunctionName).replace(`swarm-reflex-${STAGE}-`, ''),
  );

/** CloudFormation's Fn::Split, resolved wherever it appears (the rule's group list). */
function resolveSplit(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveSplit);
  if (value && typeof value === 'object') {
    const split = z.object({ 'Fn::Split': z.tuple([z.string(), z.string()]) }).safeParse(value);
    if (split.success) return split.data['Fn::Split'][1].split(split.data['Fn::Split'][0]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveSplit(v)]));
  }
  return value;
}

const ruleSchema = z.object({
  EventPattern: z.record(z.string(), z.unknown()).optional(),
  ScheduleExpression: z.string().optional(),
  Name: z.string().optional(),
  State: z.string(),
  Targets: z.array(z.object({ Arn: getAtt })),
});

/** The EventBridge rules whose target is this function, with their logical IDs. */
function rulesOf(name: string) {
  const id = functionId(name);
  return resources('AWS::Events::Rule')
    .map(([logicalId, r]) => ({ logicalId, ...ruleSchema.parse(r.Properties) }))
    .filter((r) => r.Targets.some((t) => t.Arn['Fn::GetAtt'][0] === id));
}

const patternsOf = (name: string) =>
  rulesOf(name)
    .filter((r) => r.EventPattern !== undefined)
    .map((r) => resolveSplit(r.EventPattern) as Record<string, unknown>);

/** EventBridge's matching, for the patterns used here: exact values, listed in arrays. */
function matches(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) {
    if (pattern.some((p) => p !== null && typeof p === 'object')) {
      throw new Error(`content filters are not understood here: ${JSON.stringify(pattern)}`);
    }
    const values = Array.isArray(event) ? event : [event];
    return values.some((v) => pattern.includes(v));
  }
  if (pattern !== null && typeof pattern === 'object') {
    if (event === null || typeof event !== 'object') return false;
    return Object.entries(pattern).every(([k, p]) => matches(p, (event as Record<string, unknown>)[k]));
  }
  throw new Error(`not a pattern: ${JSON.stringify(pattern)}`);
}

function environmentOf(name: string): Record<string, string> {
  const fn = template.Resources[functionId(name)];
  return z.object({ Variables: z.record(z.string(), z.string()) }).parse(fn?.Properties.Environment)
    .Variables;
}

/** Every statement of a function's role, but the logging one every function has. */
function statementsOf(name: string): Statement[] {
  const role = getAtt.parse(template.Resources[functionId(name)]?.Properties.Role)['Fn::GetAtt'][0];
  const policies = z
    .array(z.object({ PolicyDocument: z.object({ Statement: z.array(z.unknown()) }) }))
    .parse(template.Resources[role]?.Properties.Policies);
  return policies
    .flatMap((p) => p.PolicyDocument.Statement.map((s) => statementSchema.parse(s)))
    .filter((s) => !actionsOf(s).every((a) => a.startsWith('logs:')));
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** IAM's action wildcards: `autoscaling:*`, `autoscaling:Complete*`. */
const grants = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action);

const sub = (arn: string) => ({ 'Fn::Sub': arn });
const prefix = `arn:\${AWS::Partition}`;
const inRegion = `\${AWS::Region}:\${AWS::AccountId}`;

const lifecycleDetailTypes = [
  'EC2 Instance-terminate Lifecycle Action',
  'EC2 Instance-launch Lifecycle Action',
];
const expectedGroups = [`${STAGE}-workers`, `${STAGE}-managers`];

describe('node-lifecycle in the packaged template', () => {
  it('is invoked by four EventBridge patterns and a schedule of one minute, and nothing else', () => {
    const rules = rulesOf(FUNCTION);
    for (const rule of rules) {
      expect(rule.State, rule.logicalId).toBe('ENABLED');
      expect(rule.Targets, rule.logicalId).toHaveLength(1);
    }
    expect(rules.filter((r) => r.ScheduleExpression).map((r) => r.ScheduleExpression)).toEqual([
      'rate(1 minute)',
    ]);
    expect(patternsOf(FUNCTION)).toEqual([
      {
        source: ['aws.autoscaling'],
        'detail-type': lifecycleDetailTypes,
        detail: { AutoScalingGroupName: expectedGroups },
      },
      {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation'],
      },
      {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { state: ['shutting-down', 'terminated'] },
      },
      {
        source: ['aws.health'],
        'detail-type': ['AWS Health Event'],
        detail: { service: ['EC2'], eventTypeCategory: ['scheduledChange'] },
      },
    ]);
    expect(rules).toHaveLength(5);
    // No other function is the target of an event pattern.
    for (const name of functionNames().filter((n) => n !== FUNCTION)) {
      expect(patternsOf(name), name).toEqual([]);
    }
  });

  it('filters the lifecycle actions to exactly the groups it acts on (LIFECYCLE_GROUPS), the worker group among them', () => {
    const settings = parseSettings(environmentOf(FUNCTION));
    const lifecycle = patternsOf(FUNCTION).find((p) => JSON.stringify(p.source) === '["aws.autoscaling"]');
    expect(lifecycle?.detail).toEqual({ AutoScalingGroupName: [...settings.lifecycleGroups] });
    // The group scale-nodes shrinks: its scale-ins pass the terminate hook too.
    expect(settings.lifecycleGroups).toContain(environmentOf('scale-nodes').WORKER_ASG_NAME);
  });

  it('may be invoked by EventBridge through its own rules only', () => {
    const id = functionId(FUNCTION);
    const ruleNames = rulesOf(FUNCTION).map((r) => r.Name ?? r.logicalId);
    const permissions = resources('AWS::Lambda::Permission')
      .map(([, r]) => r.Properties)
      .filter((p) => getAtt.safeParse(p.FunctionName).data?.['Fn::GetAtt'][0] === id);
    expect(permissions).toHaveLength(ruleNames.length);
    for (const p of permissions) {
      expect(p).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' });
      // The rule's ARN: by its name (pattern rules) or its logical ID (the schedule).
      const source = JSON.stringify(p.SourceArn);
      expect(ruleNames.some((n) => source.includes(`"${n}"`))).toBe(true);
    }
  });

  it('gets every AWS event sample of events/node-lifecycle from exactly one rule, and no other event', () => {
    const dir = join(ROOT, 'events', FUNCTION);
    const samples = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({
        file: f,
        event: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>,
      }))
      .filter(({ event }) => typeof event.source === 'string' && event.source !== 'aws.events');
    const patterns = patternsOf(FUNCTION);
    const ruled = (event: unknown) => patterns.filter((p) => matches(p, event)).length;
    const inGroup = (event: Record<string, unknown>, group: string) => ({
      ...event,
      detail: { ...(event.detail as object), AutoScalingGroupName: group },
    });
    // One of each kind at least, so that this cannot pass on an empty folder.
    expect(new Set(samples.map(({ event }) => event['detail-type'])).size).toBeGreaterThanOrEqual(6);
    for (const { file, event } of samples) {
      if (event.source === 'aws.autoscaling') {
        // The samples name a production group; the rule names this stage's.
        expect(ruled(inGroup(event, `${STAGE}-workers`)), file).toBe(1);
        expect(ruled(inGroup(event, `${STAGE}-managers`)), file).toBe(1);
        expect(ruled(inGroup(event, 'someone-elses-group')), `${file}, another group`).toBe(0);
      } else {
        expect(ruled(event), file).toBe(1);
      }
    }
    const ec2 = samples.find(
      ({ event }) => event['detail-type'] === 'EC2 Instance State-change Notification',
    );
    const health = samples.find(({ event }) => event.source === 'aws.health');
    if (!ec2 || !health) throw new Error('no state-change or Health sample');
    for (const state of ['pending', 'running', 'stopping', 'stopped']) {
      const event = { ...ec2.event, detail: { ...(ec2.event.detail as object), state } };
      expect(ruled(event), state).toBe(0);
    }
    const rds = { ...health.event, detail: { ...(health.event.detail as object), service: 'RDS' } };
    const issue = {
      ...health.event,
      detail: { ...(health.event.detail as object), eventTypeCategory: 'issue' },
    };
    expect(ruled(rds)).toBe(0);
    expect(ruled(issue)).toBe(0);
  });

  it('runs with settings the function accepts, in the VPC, and ends before the next pass starts', () => {
    const env = environmentOf(FUNCTION);
    const settings = parseSettings(env);
    expect(settings).toMatchObject({
      cloud: 'aws',
      clusterTag: { key: 'swarm-reflex:cluster', value: STAGE },
      lifecycleDrainTimeoutSeconds: 600,
      launchJoinTimeoutSeconds: 900,
      onRebalance: 'notify',
      scheduledDrainLeadSeconds: 3600,
    });
    // Each variable it is given is one the settings read (a misspelt name would be ignored).
    const known = readFileSync(join(ROOT, 'shared', 'config', 'settings.ts'), 'utf8');
    for (const name of Object.keys(env).filter((n) => n !== 'NODE_OPTIONS')) {
      expect(new RegExp(`variable\\(\\s*'${name}'`).test(known), `${name} is not a setting`).toBe(true);
    }
    const fn = template.Resources[functionId(FUNCTION)]?.Properties ?? {};
    expect(fn.VpcConfig).toEqual(template.Resources[functionId('replace-node')]?.Properties.VpcConfig);
    expect(fn.Handler).toBe(`functions/${FUNCTION}/handler.handler`);
    expect(Number(fn.Timeout)).toBeLessThan(60);
  });

  it('has a role with exactly its reads (secrets, manager addresses, the pause), its failure queue and the lifecycle actions of tagged groups', () => {
    expect(statementsOf(FUNCTION)).toEqual([
      {
        Effect: 'Allow',
        Action: ['ssm:GetParametersByPath'],
        Resource: [sub(`${prefix}:ssm:${inRegion}:parameter/swarm-reflex/${STAGE}/secrets`)],
      },
      {
        Effect: 'Allow',
        Action: ['ssm:GetParameters'],
        Resource: [sub(`${prefix}:ssm:${inRegion}:parameter/swarm-reflex/${STAGE}/swarm/manager-addresses`)],
      },
      {
        Effect: 'Allow',
        Action: ['ssm:GetParameters'],
        Resource: [sub(`${prefix}:ssm:${inRegion}:parameter/swarm-reflex/${STAGE}/pause`)],
      },
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [{ 'Fn::GetAtt': ['FailureQueue', 'Arn'] }] },
      {
        Effect: 'Allow',
        Action: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeLifecycleHooks',
          'ec2:DescribeInstances',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        Resource: [sub(`${prefix}:autoscaling:${inRegion}:autoScalingGroup:*:autoScalingGroupName/*`)],
        Condition: { StringEquals: { 'autoscaling:ResourceTag/swarm-reflex:cluster': STAGE } },
      },
    ]);
  });

  it('sends the invocations that still fail after Lambda retried them to the failure queue', () => {
    const id = functionId(FUNCTION);
    const configs = resources('AWS::Lambda::EventInvokeConfig')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.FunctionName) === JSON.stringify({ Ref: id }));
    expect(configs).toEqual([
      {
        FunctionName: { Ref: id },
        Qualifier: '$LATEST',
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } },
      },
    ]);
  });

  it('gives no other function a lifecycle action', () => {
    const others = functionNames().filter((n) => n !== FUNCTION);
    expect(others.length).toBeGreaterThanOrEqual(6);
    for (const name of others) {
      for (const statement of statementsOf(name)) {
        for (const pattern of actionsOf(statement)) {
          for (const action of LIFECYCLE_ACTIONS) {
            expect(grants(pattern, action), `${name}: ${pattern} grants ${action}`).toBe(false);
          }
        }
      }
    }
  });
});
