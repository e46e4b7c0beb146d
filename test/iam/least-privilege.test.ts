import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry, LedgerResource } from '../support/aws-ledger';
import { LEDGER_DIR } from '../support/ledger-dir';
import { packagedTemplate, PACKAGE_STAGE as STAGE } from '../unit/config/packaged-template';

/**
 * The proof that each function's role allows exactly what the function calls: the roles
 * come from the CloudFormation template `sls package` generates, the calls from what the
 * functions' own tests sent to the AWS SDK mocks (test/support/aws-ledger.ts). Evaluated
 * offline with an IAM policy simulator.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const FUNCTIONS_WITH_AWS_CALLS = ['scale-nodes', 'replace-node', 'sync-join-tokens', 'node-lifecycle'];

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
let roles: Map<string, Statement[]>;
let ledger: Map<string, LedgerEntry[]>;

function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Fn::Sub' in v && typeof v['Fn::Sub'] === 'string') {
      // CloudFormation's pseudo parameters, as ${AWS::Name} in the Fn::Sub string.
      const pseudo: Record<string, string> = { Partition: 'aws', Region: REGION, AccountId: ACCOUNT };
      return v['Fn::Sub'].replace(/\$\{AWS::(\w+)\}/g, (whole, name: string) => pseudo[name] ?? whole);
    }
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return (resolve(parts) as unknown[]).join(sep);
    }
    if ('Fn::GetAtt' in v) {
      // Only the failure queue is referenced this way in the roles.
      const [logicalId] = v['Fn::GetAtt'] as [string, string];
      return `arn:aws:sqs:${REGION}:${ACCOUNT}:${logicalId}`;
    }
    if ('Ref' in v)
      return (
        { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT }[v.Ref as string] ??
        `ref-${String(v.Ref)}`
      );
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  }
  return value;
}

function concrete(resource: LedgerResource): { arn: string; context: Record<string, string> } {
  switch (resource.kind) {
    case 'any':
      return { arn: '*', context: {} };
    case 'ssm-parameter':
      return {
        arn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/swarm-reflex/${STAGE}/${resource.relative}`,
        context: {},
      };
    case 'instance':
      return {
        arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`,
        context: resource.clusterTagged ? { 'aws:ResourceTag/swarm-reflex:cluster': STAGE } : {},
      };
    case 'worker-group':
      // The worker group carries the cluster tag (it propagates it to its instances).
      return group(`${STAGE}-workers`, STAGE);
    case 'function':
      return {
        arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:swarm-reflex-${STAGE}-${resource.name}`,
        context: {},
      };
  }
}

/** An Auto Scaling group of this stage, tagged swarm-reflex:cluster=<cluster> (undefined: untagged). */
function group(name: string, cluster: string | undefined): { arn: string; context: Record<string, string> } {
  return {
    arn: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/${name}`,
    context: cluster === undefined ? {} : { 'autoscaling:ResourceTag/swarm-reflex:cluster': cluster },
  };
}

async function decide(fn: string, entry: LedgerEntry): Promise<string> {
  const { arn, context } = concrete(entry.resource);
  return decideOn(fn, entry.action, arn, { ...context, ...(entry.context ?? {}) });
}

/** The simulator's verdict on one request: an action on a concrete ARN with its condition keys. */
async function decideOn(
  fn: string,
  action: string,
  arn: string,
  contextVariables: Record<string, string | string[]>,
): Promise<string> {
  const statements = roles.get(fn);
  if (!statements) throw new Error(`no role for ${fn}`);
  const simulation: Simulation = {
    identityPolicies: [{ name: `${fn}-role`, policy: { Version: '2012-10-17', Statement: statements } }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action,
      principal: `arn:aws:iam::${ACCOUNT}:role/swarm-reflex-${STAGE}-${fn}`,
      resource: { accountId: ACCOUNT, resource: arn },
      contextVariables,
    },
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') throw new Error(`${fn} ${action}: ${JSON.stringify(response.errors)}`);
  return response.overallResult;
}

const key = (e: LedgerEntry) => JSON.stringify([e.action, e.resource, e.context ?? {}]);

beforeAll(async () => {
  // The template the unit project's template tests packaged, when serverless.yml has not changed since.
  const template = (await packagedTemplate('api')) as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const roleOf = new Map<string, string>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const name = String(r.Properties.FunctionName).replace(`swarm-reflex-${STAGE}-`, '');
    const getAtt = (r.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    roleOf.set(name, getAtt[0]);
  }
  roles = new Map();
  for (const [fn, logicalId] of roleOf) {
    const role = template.Resources[logicalId];
    const policies = (role?.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: unknown[] } }>;
    roles.set(fn, resolve(policies.flatMap((p) => p.PolicyDocument.Statement)) as Statement[]);
  }
  ledger = new Map();
  const files = existsSync(LEDGER_DIR) ? readdirSync(LEDGER_DIR) : [];
  for (const f of files) {
    const unique = new Map<string, LedgerEntry>();
    for (const line of readFileSync(join(LEDGER_DIR, f), 'utf8').split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as LedgerEntry;
      unique.set(key(e), e);
    }
    ledger.set(f.replace(/\.jsonl$/, ''), [...unique.values()]);
  }
}, 600_000);

describe('each function role allows exactly what the function calls', () => {
  it('has a role per function and a ledger recorded by the unit and integration tests', () => {
    expect([...roles.keys()].sort()).toEqual(
      readdirSync(join(ROOT, 'functions'))
        .filter((d) => existsSync(join(ROOT, 'functions', d, 'handler.ts')))
        .sort(),
    );
    for (const fn of [...FUNCTIONS_WITH_AWS_CALLS, '_shared']) {
      expect(
        ledger.get(fn)?.length ?? 0,
        `no AWS calls recorded for ${fn}: run the unit and integration tests first (npm test)`,
      ).toBeGreaterThan(0);
    }
  });

  it('allows every call each function makes in its own tests (and the shared secrets read)', async () => {
    for (const fn of roles.keys()) {
      for (const entry of [...(ledger.get(fn) ?? []), ...(ledger.get('_shared') ?? [])]) {
        expect(await decide(fn, entry), `${fn}: ${key(entry)}`).toBe('Allowed');
      }
    }
  });

  it('denies each function the calls that belong only to other functions', async () => {
    let checked = 0;
    for (const fn of roles.keys()) {
      const own = new Set([...(ledger.get(fn) ?? []), ...(ledger.get('_shared') ?? [])].map(key));
      for (const [other, entries] of ledger) {
        if (other === fn || other === '_shared') continue;
        for (const entry of entries) {
          if (own.has(key(entry))) continue;
          expect(await decide(fn, entry), `${fn} must not ${key(entry)} (a call of ${other})`).not.toBe(
            'Allowed',
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('denies termination, tagging and untagging of instances without the cluster tag, and foreign tag keys', async () => {
    const untagged: LedgerResource = { kind: 'instance', clusterTagged: false };
    expect(await decide('replace-node', { action: 'ec2:TerminateInstances', resource: untagged })).not.toBe(
      'Allowed',
    );
    expect(
      await decide('replace-node', {
        action: 'ec2:CreateTags',
        resource: untagged,
        context: { 'aws:TagKeys': ['swarm-reflex:replacing-node'] },
      }),
    ).not.toBe('Allowed');
    for (const action of ['ec2:CreateTags', 'ec2:DeleteTags']) {
      expect(
        await decide('replace-node', {
          action,
          resource: { kind: 'instance', clusterTagged: true },
          context: { 'aws:TagKeys': ['swarm-reflex:cluster'] },
        }),
        action,
      ).not.toBe('Allowed');
    }
    expect(
      await decide('replace-node', {
        action: 'ec2:DeleteTags',
        resource: untagged,
        context: { 'aws:TagKeys': ['swarm-reflex:replacing-node'] },
      }),
    ).not.toBe('Allowed');
  });

  it('denies SSM reads outside the stage path, and the join tokens to every function but sync-join-tokens', async () => {
    for (const fn of roles.keys()) {
      const outside = { kind: 'ssm-parameter' as const, relative: '../other-stage/secrets' };
      expect(await decide(fn, { action: 'ssm:GetParametersByPath', resource: outside }), fn).not.toBe(
        'Allowed',
      );
      if (fn === 'sync-join-tokens') continue;
      for (const action of ['ssm:GetParameters', 'ssm:GetParameter', 'ssm:GetParametersByPath']) {
        const token = { kind: 'ssm-parameter' as const, relative: 'swarm/join-token-manager' };
        expect(await decide(fn, { action, resource: token }), `${fn} ${action}`).not.toBe('Allowed');
      }
    }
  });

  it('lets the functions that honour the pause read it, and no other (notify keeps delivering)', async () => {
    // Which functions read it: those whose handler takes the pause switch of the manager pool.
    const readsPause = (fn: string) =>
      /\{[^}]*\bpause\b[^}]*\}\s*=\s*swarmAccess\(/.test(
        readFileSync(join(ROOT, 'functions', fn, 'handler.ts'), 'utf8'),
      );
    const pause = { kind: 'ssm-parameter' as const, relative: 'pause' };
    const readers = [...roles.keys()].filter(readsPause);
    expect(readers.length).toBeGreaterThanOrEqual(5);
    expect(readers).not.toContain('notify');
    for (const fn of roles.keys()) {
      const verdict = await decide(fn, { action: 'ssm:GetParameters', resource: pause });
      if (readers.includes(fn)) expect(verdict, fn).toBe('Allowed');
      else expect(verdict, fn).not.toBe('Allowed');
      // Another stage's pause is not ours to read.
      const other = { kind: 'ssm-parameter' as const, relative: '../other-stage/pause' };
      expect(await decide(fn, { action: 'ssm:GetParameters', resource: other }), fn).not.toBe('Allowed');
    }
  });

  it('gives scale-service and notify no EC2 and no Auto Scaling at all', async () => {
    const calls: LedgerEntry[] = [
      { action: 'ec2:DescribeInstances', resource: { kind: 'any' } },
      { action: 'ec2:TerminateInstances', resource: { kind: 'instance', clusterTagged: true } },
      { action: 'autoscaling:SetDesiredCapacity', resource: { kind: 'worker-group' } },
      { action: 'autoscaling:TerminateInstanceInAutoScalingGroup', resource: { kind: 'worker-group' } },
    ];
    for (const fn of ['scale-service', 'notify']) {
      for (const call of calls) expect(await decide(fn, call), `${fn} ${call.action}`).not.toBe('Allowed');
    }
  });

  it('lets node-lifecycle complete and heartbeat lifecycle actions only on groups tagged with this cluster', async () => {
    const fn = 'node-lifecycle';
    for (const action of [
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
    ]) {
      for (const name of [`${STAGE}-workers`, `${STAGE}-managers`]) {
        const tagged = group(name, STAGE);
        expect(await decideOn(fn, action, tagged.arn, tagged.context), `${action} on ${name}`).toBe(
          'Allowed',
        );
        const untagged = group(name, undefined);
        expect(
          await decideOn(fn, action, untagged.arn, untagged.context),
          `${action} on untagged ${name}`,
        ).not.toBe('Allowed');
      }
      const foreign = group('staging-workers', 'staging');
      expect(
        await decideOn(fn, action, foreign.arn, foreign.context),
        `${action} on another cluster`,
      ).not.toBe('Allowed');
    }
  });

  it('lets no other function touch a lifecycle action or read the hooks', async () => {
    const tagged = group(`${STAGE}-workers`, STAGE);
    const others = [...roles.keys()].filter((fn) => fn !== 'node-lifecycle');
    expect(others.length).toBeGreaterThanOrEqual(6);
    for (const fn of others) {
      for (const action of [
        'autoscaling:CompleteLifecycleAction',
        'autoscaling:RecordLifecycleActionHeartbeat',
        'autoscaling:DescribeLifecycleHooks',
      ]) {
        const arn = action.endsWith('Hooks') ? '*' : tagged.arn;
        expect(await decideOn(fn, action, arn, tagged.context), `${fn} ${action}`).not.toBe('Allowed');
      }
    }
  });

  it('gives node-lifecycle no termination, no tagging, no capacity, no hooks of its own, no invocation, no SSM write', async () => {
    const fn = 'node-lifecycle';
    const workers = group(`${STAGE}-workers`, STAGE);
    const instance = concrete({ kind: 'instance', clusterTagged: true });
    const denied: Array<[string, { arn: string; context: Record<string, string> }]> = [
      ['ec2:TerminateInstances', instance],
      ['ec2:StopInstances', instance],
      ['ec2:CreateTags', instance],
      ['ec2:DeleteTags', instance],
      ['autoscaling:TerminateInstanceInAutoScalingGroup', workers],
      ['autoscaling:SetDesiredCapacity', workers],
      ['autoscaling:UpdateAutoScalingGroup', workers],
      // Its own permission hangs on the group's tag: it must not be able to tag a group into the cluster.
      ['autoscaling:CreateOrUpdateTags', workers],
      ['autoscaling:PutLifecycleHook', workers],
      ['autoscaling:DeleteLifecycleHook', workers],
      ['autoscaling:SetInstanceHealth', workers],
      ['lambda:InvokeFunction', concrete({ kind: 'function', name: 'replace-node' })],
      ['ssm:PutParameter', concrete({ kind: 'ssm-parameter', relative: 'swarm/manager-addresses' })],
    ];
    for (const [action, { arn, context }] of denied) {
      expect(await decideOn(fn, action, arn, context), action).not.toBe('Allowed');
    }
  });
});
