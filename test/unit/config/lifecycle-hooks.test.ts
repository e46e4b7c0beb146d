import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { parseSettings } from '../../../shared/config/settings';

/**
 * The lifecycle hooks of deploy/ (the CloudFormation snippet and the put-lifecycle-hook script)
 * against what node-lifecycle does with them: its drain and join timeouts, its reconcile pass
 * every minute, its heartbeats. A hook that times out before the function has decided would
 * hand the decision back to AWS.
 */
const ROOT = new URL('../../../', import.meta.url).pathname;
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
/** Auto Scaling's limits (PutLifecycleHook, LifecycleHook.GlobalTimeout). */
const HEARTBEAT_MIN = 30;
const HEARTBEAT_MAX = 7_200;
const globalTimeout = (heartbeat: number) => Math.min(172_800, 100 * heartbeat);

const hookSchema = z.object({
  Type: z.literal('AWS::AutoScaling::LifecycleHook'),
  Properties: z.strictObject({
    AutoScalingGroupName: z.object({ Ref: z.string() }),
    LifecycleHookName: z.string(),
    LifecycleTransition: z.enum([TERMINATING, LAUNCHING]),
    HeartbeatTimeout: z.number().int(),
    DefaultResult: z.enum(['CONTINUE', 'ABANDON']),
  }),
});
const snippet = z
  .object({
    Parameters: z.record(z.string(), z.object({ Type: z.literal('String') })),
    Resources: z.record(z.string(), hookSchema),
  })
  .parse(parse(readFileSync(join(ROOT, 'deploy', 'lifecycle-hooks.yml'), 'utf8')));
const hooks = Object.values(snippet.Resources).map((r) => ({
  group: r.Properties.AutoScalingGroupName.Ref,
  name: r.Properties.LifecycleHookName,
  transition: r.Properties.LifecycleTransition,
  heartbeatTimeout: r.Properties.HeartbeatTimeout,
  defaultResult: r.Properties.DefaultResult,
}));
const hookOf = (transition: string) => {
  const found = hooks.filter((h) => h.transition === transition);
  // Both groups get the same hook: one value to reason about.
  expect(new Set(found.map((h) => JSON.stringify({ ...h, group: undefined }))).size).toBe(1);
  const [hook] = found;
  if (!hook) throw new Error(`no ${transition} hook`);
  return hook;
};

/** node-lifecycle's defaults, as the function reads them and as serverless.yml deploys them. */
const defaults = parseSettings({ WEBHOOK_TOKENS: 'lifecycle-hooks-test-token' });
const serverless = z
  .object({
    params: z.object({ default: z.record(z.string(), z.string()) }),
    functions: z.object({
      'node-lifecycle': z.object({ events: z.array(z.record(z.string(), z.unknown())) }),
    }),
  })
  .parse(parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')));
/** How often the reconcile pass runs (its schedule), in seconds. */
const interval = (() => {
  const rates = serverless.functions['node-lifecycle'].events.flatMap((e) => {
    const rate = z.object({ rate: z.string() }).safeParse(e.schedule);
    return rate.success ? [rate.data.rate] : [];
  });
  if (rates.join() !== 'rate(1 minute)') throw new Error(`node-lifecycle's schedule is ${rates.join()}`);
  return 60;
})();

describe('deploy/lifecycle-hooks.yml', () => {
  it('puts a terminate and a launch hook on the worker group and on the manager group', () => {
    expect(Object.keys(snippet.Parameters).sort()).toEqual(['ManagerGroupName', 'WorkerGroupName']);
    expect(hooks.map((h) => `${h.group} ${h.transition} ${h.name}`).sort()).toEqual([
      `ManagerGroupName ${LAUNCHING} swarm-reflex-join`,
      `ManagerGroupName ${TERMINATING} swarm-reflex-drain`,
      `WorkerGroupName ${LAUNCHING} swarm-reflex-join`,
      `WorkerGroupName ${TERMINATING} swarm-reflex-drain`,
    ]);
    for (const h of hooks) {
      expect(h.heartbeatTimeout, h.name).toBeGreaterThanOrEqual(HEARTBEAT_MIN);
      expect(h.heartbeatTimeout, h.name).toBeLessThanOrEqual(HEARTBEAT_MAX);
    }
  });

  it('names the hooks node-lifecycle answers (LIFECYCLE_HOOKS), here, in the stack and in the CLI script alike', () => {
    const names = [...new Set(hooks.map((h) => h.name))].sort();
    expect([...defaults.lifecycleHooks].sort()).toEqual(names);
    expect(serverless.params.default.lifecycleHooks?.split(',').sort()).toEqual(names);
    const script = readFileSync(join(ROOT, 'deploy', 'lifecycle-hooks.sh'), 'utf8');
    const inScript = [...script.matchAll(/^(?:TERMINATE|LAUNCH)_HOOK=(\S+)$/gm)].map((m) => m[1]);
    expect(inScript.sort()).toEqual(names);
  });

  it('deploys the function with the defaults it documents', () => {
    expect(Number(serverless.params.default.lifecycleDrainTimeoutSeconds)).toBe(
      defaults.lifecycleDrainTimeoutSeconds,
    );
    expect(Number(serverless.params.default.launchJoinTimeoutSeconds)).toBe(
      defaults.launchJoinTimeoutSeconds,
    );
  });

  it('terminate: waits out the whole drain, survives missed passes, and lets the instance go when nobody answers', () => {
    const hook = hookOf(TERMINATING);
    // The completion after a timed-out drain comes at the next pass.
    expect(globalTimeout(hook.heartbeatTimeout)).toBeGreaterThanOrEqual(
      defaults.lifecycleDrainTimeoutSeconds + interval,
    );
    // node-lifecycle records a heartbeat at the first pass after half the timeout: the passes
    // after that one, up to the timeout, may fail.
    const missable = Math.floor(hook.heartbeatTimeout / 2 / interval) - 1;
    expect(missable).toBeGreaterThanOrEqual(2);
    // Both results terminate; CONTINUE lets the group's other terminate hooks run.
    expect(hook.defaultResult).toBe('CONTINUE');
  });

  it('launch: node-lifecycle abandons a node that never joined before AWS times out, and AWS never abandons', () => {
    const hook = hookOf(LAUNCHING);
    // No heartbeats for launches: the join timeout, plus a pass, and one more pass to spare.
    expect(hook.heartbeatTimeout).toBeGreaterThanOrEqual(defaults.launchJoinTimeoutSeconds + 2 * interval);
    // A timeout means the function did not answer: the instance goes into service as before the hooks.
    expect(hook.defaultResult).toBe('CONTINUE');
  });

  it('names the hooks as the function’s event samples do', () => {
    const sample = (file: string) =>
      z
        .object({ detail: z.object({ LifecycleHookName: z.string() }) })
        .parse(JSON.parse(readFileSync(join(ROOT, 'events', 'node-lifecycle', file), 'utf8'))).detail
        .LifecycleHookName;
    expect(sample('terminate-hook.json')).toBe(hookOf(TERMINATING).name);
    expect(sample('launch-hook.json')).toBe(hookOf(LAUNCHING).name);
  });
});

describe('deploy/lifecycle-hooks.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'srx-hooks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const calls = join(dir, 'calls');
  const groups = join(dir, 'groups');
  const fakeAws = join(dir, 'aws');
  // Records each call (arguments separated by US); answers describe-auto-scaling-groups as
  // `--query … --output text` would: the name and the cluster tag, or None.
  writeFileSync(
    fakeAws,
    `#!/bin/bash
(IFS=$'\\x1f'; printf '%s\\n' "$*") >>"$FAKE_AWS_CALLS"
if [ "$2" = describe-auto-scaling-groups ]; then
  while [ $# -gt 0 ] && [ "$1" != --auto-scaling-group-names ]; do shift; done
  line=$(awk -F '\\t' -v g="$2" '$1 == g' "$FAKE_AWS_GROUPS")
  printf '%s\\n' "\${line:-None}"
fi
`,
  );
  chmodSync(fakeAws, 0o755);

  const run = (args: string[], known: Record<string, string>) => {
    rmSync(calls, { force: true });
    writeFileSync(
      groups,
      Object.entries(known)
        .map(([name, tag]) => `${name}\t${tag}\n`)
        .join(''),
    );
    const result = spawnSync('bash', [join(ROOT, 'deploy', 'lifecycle-hooks.sh'), ...args], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        AWS_CLI: fakeAws,
        AWS_REGION: 'eu-west-1',
        FAKE_AWS_CALLS: calls,
        FAKE_AWS_GROUPS: groups,
      },
    });
    let recorded: string[][] = [];
    try {
      recorded = readFileSync(calls, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\x1f'));
    } catch {}
    return { code: result.status, stderr: result.stderr, calls: recorded };
  };
  const puts = (recorded: string[][]) =>
    recorded
      .filter((c) => c[1] === 'put-lifecycle-hook')
      .map((c) => {
        const arg = (flag: string) => c[c.indexOf(flag) + 1];
        return {
          group: arg('--auto-scaling-group-name'),
          name: arg('--lifecycle-hook-name'),
          transition: arg('--lifecycle-transition'),
          heartbeatTimeout: Number(arg('--heartbeat-timeout')),
          defaultResult: arg('--default-result'),
          region: arg('--region'),
        };
      });
  const tagged = { 'prod-swarm-workers': 'prod', 'prod-swarm-managers': 'prod' };

  it('puts exactly the hooks of the snippet on each group it is given, each time it runs', () => {
    const expected = (['prod-swarm-workers', 'prod-swarm-managers'] as const).flatMap((group) =>
      hooks
        .filter((h) => h.group === (group === 'prod-swarm-workers' ? 'WorkerGroupName' : 'ManagerGroupName'))
        .map((h) => ({ ...h, group, region: 'eu-west-1' })),
    );
    const args = ['--cluster', 'prod', 'prod-swarm-workers', 'prod-swarm-managers'];
    const first = run(args, tagged);
    expect(first.code, first.stderr).toBe(0);
    const sort = (list: Array<{ group?: string; name?: string }>) =>
      [...list].sort((a, b) => `${a.group} ${a.name}`.localeCompare(`${b.group} ${b.name}`));
    expect(sort(puts(first.calls))).toEqual(sort(expected));
    // Only reads and puts: running it again changes nothing more.
    expect(new Set(first.calls.map((c) => c[1]))).toEqual(
      new Set(['describe-auto-scaling-groups', 'put-lifecycle-hook']),
    );
    const again = run(args, tagged);
    expect(again.code, again.stderr).toBe(0);
    expect(again.calls).toEqual(first.calls);
  });

  it('puts no hook anywhere when one group is missing or does not carry the cluster tag', () => {
    const untagged = run(['--cluster', 'prod', 'prod-swarm-workers', 'prod-swarm-managers'], {
      ...tagged,
      'prod-swarm-managers': 'None',
    });
    expect(untagged.code).toBe(3);
    expect(untagged.stderr).toContain('prod-swarm-managers does not carry the tag swarm-reflex:cluster=prod');
    expect(puts(untagged.calls)).toEqual([]);
    const otherCluster = run(['--cluster', 'prod', 'prod-swarm-workers'], {
      'prod-swarm-workers': 'staging',
    });
    expect(otherCluster.code).toBe(3);
    expect(puts(otherCluster.calls)).toEqual([]);
    const missing = run(['--cluster', 'prod', 'prod-swarm-workers', 'nope'], tagged);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('there is no Auto Scaling group nope');
    expect(puts(missing.calls)).toEqual([]);
  });

  it('says how to call it when the cluster or the groups are missing', () => {
    for (const args of [['prod-swarm-workers'], ['--cluster', 'prod'], ['--cluster']]) {
      const result = run(args, tagged);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('usage:');
      expect(result.calls).toEqual([]);
    }
  });
});

describe('deploy/swarm-reflex-join.service', () => {
  const unit = readFileSync(join(ROOT, 'deploy', 'swarm-reflex-join.service'), 'utf8');

  it('runs the bootstrap at every boot with the settings the first boot wrote, again after a failure', () => {
    const lines = unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l));
    expect(lines).toEqual(
      expect.arrayContaining([
        'ExecStart=/opt/swarm-reflex/bootstrap.sh',
        'EnvironmentFile=/etc/swarm-reflex/bootstrap.env',
        'ConditionPathExists=/etc/swarm-reflex/bootstrap.env',
        // Not waited for: the bootstrap may wait for hours while the instance is in a warm pool.
        'Type=exec',
        'Restart=on-failure',
        'RestartPreventExitStatus=2',
        'WantedBy=multi-user.target',
      ]),
    );
  });

  const hasSystemd = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;
  it.skipIf(!hasSystemd && process.env.CI !== 'true')('is a unit systemd accepts without a warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srx-unit-'));
    try {
      // Verified with the repository's script where the unit expects the installed one.
      const file = join(dir, 'swarm-reflex-join.service');
      const script = join(ROOT, 'deploy', 'bootstrap.sh');
      writeFileSync(file, unit.replace('ExecStart=/opt/swarm-reflex/bootstrap.sh', `ExecStart=${script}`));
      const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect(`${verify.stdout}${verify.stderr}`).toBe('');
      expect(verify.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
