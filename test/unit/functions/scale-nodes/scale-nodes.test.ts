import {
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { bounds, decideNodeScale, parseNodeScale } from '../../../../functions/scale-nodes/decide-node-scale';
import { type ScaleNodesDeps, scaleNodes } from '../../../../functions/scale-nodes/scale-nodes';
import { createWorkerGroup } from '../../../../shared/adapters/autoscaling';
import { createLogger } from '../../../../shared/adapters/logger';
import type { AlertmanagerWebhook } from '../../../../shared/domain/alerts';
import type { GroupState } from '../../../../shared/domain/cloud';
import { DependencyUnavailableError, VersionConflictError } from '../../../../shared/domain/errors';
import {
  NODE_SCALE_CLAIM_LABEL,
  SCALE_IN_CLAIM_LABEL,
  SCALE_IN_LABEL,
} from '../../../../shared/domain/labels';
import { readNodeScaleClaim } from '../../../../shared/domain/swarm-ledger';
import { autoScalingError, fakeAutoScaling } from '../../../support/fake-autoscaling';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const log = createLogger({ level: 'error', sink: () => {} });
const settings = {
  nodeScaleCooldownSeconds: 300,
  nodeScaleStep: 1,
  nodeScaleInMax: 1,
  nodesMin: 0,
  nodesMax: 0,
  scaleInDrainTimeoutSeconds: 900,
  updateAttempts: 10,
};
let asg: ReturnType<typeof fakeAutoScaling> | undefined;
afterEach(() => asg?.mock.restore());

/** 1 manager + 3 workers, each worker an instance of the group; w1 busy, w2 idle, w3 a little busy. */
function setup(
  group: Partial<{ min: number; max: number; desired: number }> = {},
  options: { activityDelayMs?: number; settings?: Partial<typeof settings> } = {},
) {
  const clock = { t: new Date('2026-11-24T12:00:00Z') };
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('w1', { engineLabels: { 'aws.instance-id': 'i-00000000000000001' } })
    .add('w2', { engineLabels: { 'aws.instance-id': 'i-00000000000000002' } })
    .add('w3', { engineLabels: { 'aws.instance-id': 'i-00000000000000003' } })
    .run('w1', 4)
    .run('w3', 1)
    .run('m1', 5);
  const fake = fakeAutoScaling(
    {
      name: 'workers',
      min: group.min ?? 1,
      max: group.max ?? 6,
      desired: group.desired ?? 3,
      instances: ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'],
    },
    () => clock.t,
    { activityDelayMs: options.activityDelayMs ?? 0 },
  );
  asg = fake;
  const notifier = recordingNotifier();
  const deps: ScaleNodesDeps = {
    swarm,
    tasks: swarm,
    group: createWorkerGroup(fake.client, 'workers'),
    notifier,
    clock: { now: () => clock.t },
    settings: { ...settings, ...options.settings },
    ...fastRetry,
  };
  return { swarm, deps, clock, notifier, asg: fake };
}

/** The capacities scale-nodes sent to Auto Scaling, in order. */
const sentCapacities = (a: ReturnType<typeof fakeAutoScaling>) =>
  a.mock.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input.DesiredCapacity);

/** An outcome as one word: its reason when it has one, else its kind. */
const word = (r: { outcomes: ReadonlyArray<{ kind: string; reason?: string }> }) =>
  r.outcomes[0]?.reason ?? r.outcomes[0]?.kind;

function webhook(...labels: Array<Record<string, string>>): AlertmanagerWebhook {
  return {
    version: '4',
    groupKey: 'g',
    status: 'firing',
    receiver: 'scale-nodes',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: '',
    alerts: labels.map((l, i) => ({ status: 'firing', labels: l, annotations: {}, fingerprint: `n${i}` })),
  };
}

const run = (deps: ScaleNodesDeps, ...labels: Array<Record<string, string>>) =>
  scaleNodes(deps, { webhook: webhook(...labels), override: undefined, dryRun: false, log });

describe('parseNodeScale and bounds', () => {
  it('reads up, down and signed integers', () => {
    expect(parseNodeScale('up')).toEqual({ kind: 'step', direction: 'up' });
    expect(parseNodeScale('-2')).toEqual({ kind: 'delta', delta: -2 });
    for (const bad of ['0', 'more', '1e2', '9999', '']) expect(parseNodeScale(bad)).toBeUndefined();
  });

  it('never goes outside the group bounds narrowed by the settings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: -30, max: 30 }).filter((d) => d !== 0),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        (a, b, delta, nodesMin, nodesMax) => {
          const group: GroupState = {
            name: 'g',
            min: Math.min(a, b),
            max: Math.max(a, b),
            desired: Math.min(a, b),
            instances: [],
            lastActivityAt: undefined,
          };
          const s = { ...settings, nodesMin, nodesMax };
          const { min, max } = bounds(group, s);
          fc.pre(min <= max);
          const d = decideNodeScale({ group, nodes: [], tasks: [], delta, now: new Date(), settings: s });
          if (d.kind === 'scale-out') {
            expect(d.to).toBeLessThanOrEqual(max);
            expect(d.to).toBeGreaterThan(d.from);
          }
          if (d.kind === 'scale-in') expect(d.to).toBeGreaterThanOrEqual(min);
        },
      ),
    );
  });
});

describe('scaleNodes (Auto Scaling mocked at the SDK boundary)', () => {
  it('scales out by the step and then refuses during the cooldown read from the group', async () => {
    const { deps, asg: a, clock } = setup();
    expect((await run(deps, { type: 'node', scale: 'up' })).outcomes).toEqual([
      { kind: 'scaled', alert: 'n0', group: 'workers', from: 3, to: 4 },
    ]);
    expect(a?.group.desired).toBe(4);
    expect((await run(deps, { type: 'node', scale: 'up' })).outcomes[0]).toMatchObject({
      reason: 'cooldown',
    });
    clock.t = new Date(clock.t.getTime() + 301_000);
    expect((await run(deps, { scale: '+5' })).outcomes[0]).toMatchObject({ kind: 'scaled', from: 4, to: 6 });
    clock.t = new Date(clock.t.getTime() + 301_000);
    expect((await run(deps, { scale: 'up' })).outcomes[0]).toMatchObject({ reason: 'at-max' });
  });

  it('says scaled, and tells the people once, when the capacity was set but the answer was lost', async () => {
    const { deps, asg: a, notifier } = setup();
    let lost = 1;
    if (a)
      a.hooks.onSetDesired = () => {
        if (lost-- > 0) throw Object.assign(new Error('connection reset'), { name: 'InternalFailure' });
      };
    expect((await run(deps, { type: 'node', scale: 'up' })).outcomes).toEqual([
      { kind: 'scaled', alert: 'n0', group: 'workers', from: 3, to: 4 },
    ]);
    expect(a?.group.desired).toBe(4);
    expect(a?.mock.commandCalls(SetDesiredCapacityCommand)).toHaveLength(1);
    expect(notifier.notices.map((n) => n.title)).toEqual(['Scaling workers out: 3 → 4']);
  });

  it('scales out once when the same scale-out arrives concurrently; the others are cooled down', async () => {
    const { deps, asg: a } = setup();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => run(deps, { type: 'node', scale: 'up' })),
    );
    expect(a?.group.desired).toBe(4);
    expect(results.map(word).sort()).toEqual(['cooldown', 'cooldown', 'cooldown', 'cooldown', 'scaled']);
    expect(results.find((r) => word(r) === 'scaled')?.outcomes[0]).toMatchObject({ from: 3, to: 4 });
  });

  it('drains the least-loaded worker, and terminates it only once it runs no task', async () => {
    const { deps, swarm, asg: a, clock } = setup();
    swarm.run('w2', 2); // now w3 (1 task) is the least loaded
    const first = await run(deps, { type: 'node', scale: 'down' });
    expect(first.outcomes[0]).toMatchObject({ kind: 'draining', from: 3, to: 2, nodes: ['w3'] });
    expect(swarm.node('w3')).toMatchObject({ availability: 'drain' });
    expect(swarm.node('w3').labels[SCALE_IN_LABEL]).toBe(clock.t.toISOString());
    expect(a?.terminated).toEqual([]);
    expect(first.scaleIns).toEqual([expect.objectContaining({ kind: 'draining', hostname: 'w3', tasks: 1 })]);

    // Another scale-in waits for this one.
    expect((await run(deps, { scale: 'down' })).outcomes[0]).toMatchObject({ reason: 'scale-in-pending' });

    // The task moved away: the next call completes the scale-in, once.
    swarm.tasks = swarm.tasks.filter((t) => t.nodeId !== swarm.node('w3').id);
    const second = await run(deps, { scale: 'down' });
    expect(second.scaleIns).toEqual([
      expect.objectContaining({ kind: 'scaled-in', hostname: 'w3', instance: 'i-00000000000000003' }),
    ]);
    expect(a?.terminated).toEqual(['i-00000000000000003']);
    expect(a?.group.desired).toBe(2);
    expect(swarm.removed).toEqual(['w3']);
    expect(second.outcomes[0]).toMatchObject({ reason: 'cooldown' });
  });

  it('terminates an idle worker right away, never a manager', async () => {
    const { deps, swarm, asg: a } = setup();
    const result = await run(deps, { scale: '-1' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'draining', nodes: ['w2'] });
    expect(result.scaleIns[0]).toMatchObject({ kind: 'scaled-in', hostname: 'w2' });
    expect(a?.terminated).toEqual(['i-00000000000000002']);
    expect(swarm.node('m1').availability).toBe('active');
  });

  it('drains and terminates once when the same scale-in arrives concurrently', async () => {
    const { deps, swarm, asg: a } = setup();
    const results = await Promise.all(Array.from({ length: 6 }, () => run(deps, { scale: 'down' })));
    const kinds = results.map((r) => r.outcomes[0]?.kind === 'draining');
    expect(kinds.filter(Boolean)).toHaveLength(1);
    expect(a?.mock.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(1);
    expect(swarm.removed).toEqual(['w2']);
    expect(a?.group.desired).toBe(2);
  });

  it('refuses at the minimum and when no worker can be drained', async () => {
    const atMin = setup({ min: 3 });
    expect((await run(atMin.deps, { scale: 'down' })).outcomes[0]).toMatchObject({ reason: 'at-min' });
    const none = setup();
    for (const n of none.swarm.nodes) n.engineLabels = {};
    expect((await run(none.deps, { scale: 'down' })).outcomes[0]).toMatchObject({ reason: 'no-candidate' });
    expect(none.asg?.mock.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
  });

  it('skips conflicting alerts, ignores resolved, non-node and malformed ones', async () => {
    const { deps, asg: a } = setup();
    const result = await run(deps, { scale: 'up' }, { scale: 'down' });
    expect(result.outcomes.map((o) => ('reason' in o ? o.reason : o.kind))).toEqual([
      'conflicting-alerts',
      'conflicting-alerts',
    ]);
    const odd = await scaleNodes(deps, {
      webhook: {
        ...webhook({ type: 'service', scale: 'up' }, { scale: 'lots' }, {}),
        alerts: [
          ...webhook({ type: 'service', scale: 'up' }, { scale: 'lots' }, {}).alerts,
          { status: 'resolved', labels: { scale: 'up' }, annotations: {} },
        ],
      },
      override: undefined,
      dryRun: false,
      log,
    });
    expect(odd.outcomes.map((o) => ('reason' in o ? o.reason : o.kind))).toEqual([
      'not-node-alert',
      'invalid-scale-label',
      'no-scale-label',
      'resolved',
    ]);
    expect(a?.group.desired).toBe(3);
  });

  it('names a huge or forged label in a short detail, and lets the URL scale stand in for a bad label', async () => {
    const { deps, asg: a } = setup();
    const huge = `service\n${'x'.repeat(8_000)}`;
    const result = await run(deps, { type: huge, scale: 'up' }, { scale: `-${'9'.repeat(8_000)}` });
    expect(result.outcomes.map((o) => ('reason' in o ? o.reason : o.kind))).toEqual([
      'not-node-alert',
      'invalid-scale-label',
    ]);
    for (const o of result.outcomes) expect((o as { detail: string }).detail.length).toBeLessThan(200);
    expect(a?.group.desired).toBe(3);
    const overridden = await scaleNodes(deps, {
      webhook: webhook({ scale: 'sideways' }),
      override: { kind: 'delta', delta: 1 },
      dryRun: false,
      log,
    });
    expect(overridden.outcomes).toEqual([{ kind: 'scaled', alert: 'n0', group: 'workers', from: 3, to: 4 }]);
  });

  it('plans without acting on a dry run', async () => {
    const { deps, swarm, asg: a } = setup();
    const result = await scaleNodes(deps, {
      webhook: webhook({ scale: 'down' }),
      override: undefined,
      dryRun: true,
      log,
    });
    expect(result.outcomes[0]).toMatchObject({
      reason: 'dry-run',
      detail: expect.stringContaining('drain w2'),
    });
    expect(swarm.node('w2').availability).toBe('active');
    expect(a?.group.desired).toBe(3);
  });

  it('says plainly that nothing can be scaled without a group', async () => {
    const { deps } = setup();
    const result = await run({ ...deps, group: undefined }, { scale: 'up' });
    expect(result.outcomes[0]).toMatchObject({
      reason: 'no-cloud',
      detail: expect.stringContaining('WORKER_ASG_NAME'),
    });
  });

  it('fails retryably on Auto Scaling throttling or access denied, changing nothing', async () => {
    const { deps, swarm, asg: a } = setup();
    if (a) a.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    await expect(run(deps, { scale: 'down' })).rejects.toMatchObject({
      name: 'DependencyUnavailableError',
      retryable: true,
    });
    expect(swarm.node('w2').availability).toBe('active');
  });
});

describe('scaleNodes: one node-scale decision at a time, as Auto Scaling really answers', () => {
  it('moves the group exactly one step when 20 scale-outs arrive before Auto Scaling lists the first activity', async () => {
    // The activity of a SetDesiredCapacity is listed 30 s after it (the clock stands still here).
    const { deps, asg: a } = setup({}, { activityDelayMs: 30_000 });
    let landed = () => {};
    const firstSet = new Promise<void>((resolve) => {
      landed = resolve;
    });
    a.hooks.onSetDesired = () => landed();
    const early = Array.from({ length: 10 }, () => run(deps, { type: 'node', scale: 'up' }));
    await firstSet;
    const late = Array.from({ length: 10 }, () => run(deps, { type: 'node', scale: 'up' }));
    const results = await Promise.all([...early, ...late]);
    expect(a.group.desired).toBe(4);
    expect(sentCapacities(a)).toEqual([4]);
    expect(results.map(word).sort()).toEqual(['scaled', ...Array(19).fill('cooldown')].sort());
  });

  it("never sends a capacity below the group's own when it was raised between the read and the write", async () => {
    const { deps, asg: a } = setup();
    // Someone (a scheduled action, a person) raises the group to 5 right after scale-nodes read 3.
    a.hooks.onDescribed = (n) => {
      if (n === 1) a.group.desired = 5;
    };
    const result = await run(deps, { type: 'node', scale: 'up' });
    expect(Math.min(...sentCapacities(a).map((n) => n ?? 0))).toBeGreaterThanOrEqual(5);
    expect(a.group.desired).toBeGreaterThanOrEqual(5);
    expect(result.outcomes[0]).toMatchObject({ kind: 'scaled', from: 5, to: 6 });
  });

  it('never lets a concurrent scale-out and scale-in both act', async () => {
    const { deps, swarm, asg: a } = setup({}, { activityDelayMs: 30_000 });
    const results = await Promise.all([
      run(deps, { type: 'node', scale: 'up' }),
      run(deps, { type: 'node', scale: 'down' }),
    ]);
    const acted = results.filter((r) => ['scaled', 'draining'].includes(r.outcomes[0]?.kind ?? ''));
    expect(acted).toHaveLength(1);
    expect(sentCapacities(a).length + swarm.removed.length).toBe(1);
  });

  it('drains one worker when a scale-in arrives again before Auto Scaling lists the first', async () => {
    const { deps, swarm, asg: a } = setup({}, { activityDelayMs: 30_000 });
    const first = await run(deps, { type: 'node', scale: 'down' });
    expect(first.outcomes[0]).toMatchObject({ kind: 'draining', nodes: ['w2'] });
    expect(a.terminated).toEqual(['i-00000000000000002']);
    const again = await Promise.all(
      Array.from({ length: 5 }, () => run(deps, { type: 'node', scale: 'down' })),
    );
    expect(again.map(word)).toEqual(Array(5).fill('cooldown'));
    expect(a.terminated).toEqual(['i-00000000000000002']);
    expect(swarm.nodes.filter((n) => n.availability === 'drain')).toEqual([]);
    expect(a.group.desired).toBe(2);
  });

  it('claims the node-scale cooldown on the swarm when it acts, never when it skips or only plans', async () => {
    const { deps, swarm, clock } = setup({ min: 3 });
    await run(deps, { scale: 'down' }); // at-min
    await scaleNodes(deps, { webhook: webhook({ scale: 'up' }), override: undefined, dryRun: true, log });
    expect(swarm.swarm.labels).toEqual({});
    await run(deps, { scale: 'up' });
    expect(swarm.swarm.labels).toEqual({
      'com.swarm-reflex.node-scale-at': expect.stringMatching(new RegExp(`^${clock.t.toISOString()} \\S+$`)),
    });
  });

  it('gives its claim back when Auto Scaling refused the change, so that the retry scales', async () => {
    const { deps, swarm, asg: a } = setup();
    a.hooks.failOn = (action) =>
      action === 'SetDesiredCapacity'
        ? Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client' })
        : undefined;
    await expect(run(deps, { type: 'node', scale: 'up' })).rejects.toMatchObject({ retryable: true });
    expect(a.group.desired).toBe(3);
    expect(swarm.swarm.labels).toEqual({});
    a.hooks.failOn = undefined;
    expect((await run(deps, { type: 'node', scale: 'up' })).outcomes[0]).toMatchObject({
      kind: 'scaled',
      from: 3,
      to: 4,
    });
  });
});

describe('scaleNodes: a claim whose answer was lost is still its own', () => {
  /** The swarm applies the next update and then the answer is lost, once, with `error`. */
  function loseNextAnswer(swarm: FakeNodes, error: Error) {
    const write = swarm.updateSwarm.bind(swarm);
    let lost = 1;
    swarm.updateSwarm = async (info, change) => {
      await write(info, change);
      if (lost-- > 0) throw error;
    };
  }

  for (const [how, error] of [
    ['the manager answered 5xx or hung up', new DependencyUnavailableError('docker', 'socket hang up')],
    [
      'the pool retried on the next manager, which saw the write as "update out of sequence"',
      new VersionConflictError('update out of sequence'),
    ],
  ] as const) {
    it(`scales out when its own claim was written but the answer was lost (${how})`, async () => {
      const { deps, swarm, asg: a, clock } = setup();
      loseNextAnswer(swarm, error);
      expect((await run(deps, { type: 'node', scale: 'up' })).outcomes).toEqual([
        { kind: 'scaled', alert: 'n0', group: 'workers', from: 3, to: 4 },
      ]);
      expect(sentCapacities(a)).toEqual([4]);
      // The claim stays: it cools the next caller down.
      expect(readNodeScaleClaim(swarm.swarm.labels)?.at).toEqual(clock.t);
      expect(word(await run(deps, { type: 'node', scale: 'up' }))).toBe('cooldown');
    });
  }

  it('gives back a claim whose answer was lost when the change then does not happen', async () => {
    const { deps, swarm, asg: a } = setup();
    swarm.swarm.labels[NODE_SCALE_CLAIM_LABEL] = '2026-11-24T10:00:00.000Z';
    loseNextAnswer(swarm, new DependencyUnavailableError('docker', 'socket hang up'));
    a.hooks.failOn = (action) =>
      action === 'SetDesiredCapacity' ? autoScalingError('ValidationError', 'refused') : undefined;
    await expect(run(deps, { type: 'node', scale: 'up' })).rejects.toThrow();
    expect(swarm.swarm.labels).toEqual({ [NODE_SCALE_CLAIM_LABEL]: '2026-11-24T10:00:00.000Z' });
  });

  it("reads a claim written by an earlier version (a bare time) as another caller's", async () => {
    const { deps, swarm, asg: a, clock } = setup();
    swarm.swarm.labels[NODE_SCALE_CLAIM_LABEL] = new Date(clock.t.getTime() - 10_000).toISOString();
    expect(word(await run(deps, { type: 'node', scale: 'up' }))).toBe('cooldown');
    expect(sentCapacities(a)).toEqual([]);
  });
});

describe('scaleNodes: a scale-in is bounded by NODE_SCALE_IN_MAX', () => {
  it('drains one worker for scale=-999', async () => {
    const { deps, swarm, asg: a } = setup();
    const result = await run(deps, { type: 'node', scale: '-999' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'draining', from: 3, to: 2, nodes: ['w2'] });
    expect(swarm.removed).toEqual(['w2']);
    expect(swarm.nodes.filter((n) => n.availability === 'drain')).toEqual([]);
    expect(a.group.desired).toBe(2);
  });

  it('drains at most NODE_SCALE_IN_MAX workers, the least loaded', async () => {
    const { deps, swarm, asg: a } = setup({ desired: 4 }, { settings: { nodeScaleInMax: 2 } });
    swarm.add('w4', { engineLabels: { 'aws.instance-id': 'i-00000000000000004' } }).run('w4', 2);
    a.group.instances.push('i-00000000000000004');
    const result = await run(deps, { type: 'node', scale: '-999' });
    expect(result.outcomes[0]).toMatchObject({ kind: 'draining', from: 4, to: 2, nodes: ['w2', 'w3'] });
    expect(swarm.removed).toEqual(['w2']); // idle: gone at once
    expect(swarm.node('w3').availability).toBe('drain'); // one task left: drains
    expect(swarm.node('w4').availability).toBe('active');
    expect(swarm.node('w1').availability).toBe('active');
  });
});

describe('scaleNodes: a scale-in that cannot finish never wedges it', () => {
  const later = (clock: { t: Date }, seconds: number) => {
    clock.t = new Date(clock.t.getTime() + seconds * 1_000);
  };
  /** Drains w3 (one task; w2 is made busier) and returns the setup. */
  async function drainingW3(group: Partial<{ min: number; max: number; desired: number }> = {}) {
    const s = setup(group);
    s.swarm.run('w2', 2);
    const first = await run(s.deps, { type: 'node', scale: 'down' });
    expect(first.outcomes[0]).toMatchObject({ kind: 'draining', nodes: ['w3'] });
    return s;
  }
  const emptyW3 = (swarm: FakeNodes) => {
    swarm.tasks = swarm.tasks.filter((t) => t.nodeId !== swarm.node('w3').id);
  };

  it('hands the drained worker back when Auto Scaling refuses to go below its minimum, and still scales up', async () => {
    const { deps, swarm, asg: a, clock, notifier } = await drainingW3();
    // While w3 drains, someone lowers the group to its minimum.
    a.group.min = 3;
    emptyW3(swarm);
    later(clock, 301);
    const result = await run(deps, { type: 'node', scale: 'up' });
    expect(result.scaleIns).toEqual([
      expect.objectContaining({
        kind: 'handed-back',
        hostname: 'w3',
        reason: 'terminate-refused',
        detail: expect.stringContaining('desiredSize equals minSize (3)'),
      }),
    ]);
    expect(swarm.node('w3').availability).toBe('active');
    expect(swarm.node('w3').labels[SCALE_IN_LABEL]).toBeUndefined();
    expect(swarm.node('w3').labels[SCALE_IN_CLAIM_LABEL]).toBeUndefined();
    expect(result.outcomes[0]).toMatchObject({ kind: 'scaled', from: 3, to: 4 });
    expect(notifier.notices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ severity: 'warning', title: expect.stringContaining('w3') }),
      ]),
    );
    // Refused once, never asked again.
    later(clock, 301);
    await run(deps, { type: 'node', scale: 'up' });
    expect(a.mock.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(1);
    expect(a.terminated).toEqual([]);
  });

  it('reports a transient failure to finish a scale-in and still decides a scale-up', async () => {
    const { deps, swarm, asg: a, clock } = await drainingW3();
    emptyW3(swarm);
    later(clock, 301);
    a.hooks.failOn = (action) =>
      action === 'TerminateInstanceInAutoScalingGroup'
        ? Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client' })
        : undefined;
    const result = await run(deps, { type: 'node', scale: 'up' });
    expect(result.scaleIns).toEqual([
      expect.objectContaining({
        kind: 'failed',
        hostname: 'w3',
        detail: expect.stringContaining('Throttling'),
      }),
    ]);
    expect(result.outcomes[0]).toMatchObject({ kind: 'scaled', from: 3, to: 4 });
    // A scale-in still waits for the one being finished.
    later(clock, 301);
    expect(word(await run(deps, { type: 'node', scale: 'down' }))).toBe('scale-in-pending');
  });

  it('abandons a drain that has not finished after SCALE_IN_DRAIN_TIMEOUT_SECONDS; a scale-up is then decided', async () => {
    const { deps, swarm, asg: a, clock, notifier } = await drainingW3();
    later(clock, 600);
    expect((await run(deps, { type: 'node', scale: 'down' })).outcomes[0]).toMatchObject({
      reason: 'scale-in-pending',
    });
    later(clock, 301);
    const result = await run(deps, { type: 'node', scale: 'up' });
    expect(result.scaleIns).toEqual([
      expect.objectContaining({ kind: 'handed-back', hostname: 'w3', reason: 'drain-timeout' }),
    ]);
    expect(swarm.node('w3').availability).toBe('active');
    expect(swarm.node('w3').labels[SCALE_IN_LABEL]).toBeUndefined();
    expect(result.outcomes[0]).toMatchObject({ kind: 'scaled', from: 3, to: 4 });
    expect(a.terminated).toEqual([]);
    expect(notifier.notices.filter((n) => n.severity === 'warning')).toEqual([
      expect.objectContaining({ title: expect.stringContaining('w3') }),
    ]);
  });

  it('cancels a drain for a scale-up instead of refusing it: the cancel is the step, the capacity is not changed', async () => {
    const { deps, swarm, asg: a, notifier } = await drainingW3();
    const result = await run(deps, { type: 'node', scale: 'up' });
    expect(result.outcomes).toEqual([
      expect.objectContaining({
        kind: 'scaled',
        reason: 'drain-cancelled',
        group: 'workers',
        from: 2,
        to: 3,
        nodes: ['w3'],
      }),
    ]);
    expect(swarm.node('w3').availability).toBe('active');
    expect(swarm.node('w3').labels[SCALE_IN_LABEL]).toBeUndefined();
    expect(sentCapacities(a)).toEqual([]);
    expect(a.group.desired).toBe(3);
    expect(notifier.notices.at(-1)).toMatchObject({ title: expect.stringContaining('w3') });
    // The cancel claimed the cooldown: a repeat does not also add a node.
    expect(word(await run(deps, { type: 'node', scale: 'up' }))).toBe('cooldown');
    expect(sentCapacities(a)).toEqual([]);
  });

  it('cancels the drain once when the same scale-up arrives five times at once', async () => {
    const { deps, swarm, asg: a } = await drainingW3();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => run(deps, { type: 'node', scale: 'up' })),
    );
    expect(results.map(word).sort()).toEqual([
      'cooldown',
      'cooldown',
      'cooldown',
      'cooldown',
      'drain-cancelled',
    ]);
    expect(swarm.node('w3').availability).toBe('active');
    expect(sentCapacities(a)).toEqual([]);
  });

  it('plans the cancel on a dry run without changing the node', async () => {
    const { deps, swarm } = await drainingW3();
    const result = await scaleNodes(deps, {
      webhook: webhook({ scale: 'up' }),
      override: undefined,
      dryRun: true,
      log,
    });
    expect(result.outcomes[0]).toMatchObject({ reason: 'dry-run', detail: expect.stringContaining('w3') });
    expect(swarm.node('w3').availability).toBe('drain');
  });
});

describe('createWorkerGroup: what Auto Scaling answers to a termination', () => {
  it('reads "can never succeed" as a refusal, a missing instance as gone, and the rest as unavailable', async () => {
    const { asg: a } = setup({ min: 3 });
    const group = createWorkerGroup(a.client, 'workers');
    expect(await group.terminateAndShrink('i-00000000000000001')).toEqual({
      kind: 'refused',
      reason: 'at-min',
      message: expect.stringContaining("violate group's min size constraint"),
    });
    expect(await group.terminateAndShrink('i-0000000000000000f')).toEqual({ kind: 'not-in-group' });
    a.hooks.failOn = () => autoScalingError('ValidationError', 'The instance is in a warm pool.');
    expect(await group.terminateAndShrink('i-00000000000000001')).toMatchObject({
      kind: 'refused',
      reason: 'invalid',
    });
    a.hooks.failOn = () => autoScalingError('ScalingActivityInProgress', 'scaling activities in progress');
    await expect(group.terminateAndShrink('i-00000000000000001')).rejects.toMatchObject({
      name: 'DependencyUnavailableError',
    });
    a.hooks.failOn = undefined;
    a.group.min = 1;
    expect(await group.terminateAndShrink('i-00000000000000001')).toEqual({ kind: 'terminated' });
  });
});

describe('scaleNodes: a claim whose change began is kept, even when the call then fails', () => {
  /** Makes the swarm refuse (for good) any write to the node with this hostname. */
  function failWritesTo(swarm: FakeNodes, hostname: string) {
    const update = swarm.updateNode.bind(swarm);
    swarm.updateNode = async (node, change) => {
      if (node.hostname === hostname) throw new Error('node update refused');
      return update(node, change);
    };
  }

  it('keeps the cooldown of a scale-in that drained one worker and failed on the next', async () => {
    const { deps, swarm } = setup({}, { settings: { nodeScaleInMax: 2 } });
    failWritesTo(swarm, 'w3');
    await expect(run(deps, { type: 'node', scale: '-2' })).rejects.toThrow('node update refused');
    expect(swarm.node('w2').labels[SCALE_IN_LABEL]).toBeDefined();
    expect(readNodeScaleClaim(swarm.swarm.labels)).toBeDefined();
  });

  it('keeps the cooldown of a scale-up that cancelled one drain and failed on the next', async () => {
    const { deps, swarm, clock } = setup();
    const began = new Date(clock.t.getTime() - 60_000).toISOString();
    for (const name of ['w1', 'w3']) {
      Object.assign(swarm.node(name), { availability: 'drain', labels: { [SCALE_IN_LABEL]: began } });
    }
    failWritesTo(swarm, 'w3');
    await expect(run(deps, { type: 'node', scale: '2' })).rejects.toThrow('node update refused');
    expect(swarm.node('w1').availability).toBe('active');
    expect(readNodeScaleClaim(swarm.swarm.labels)).toBeDefined();
  });
});
