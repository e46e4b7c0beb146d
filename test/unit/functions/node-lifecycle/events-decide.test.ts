import { afterEach, describe, expect, it } from 'vitest';
import { parseLifecycleRequest } from '../../../../functions/node-lifecycle/events';
import { nodeLifecycle } from '../../../../functions/node-lifecycle/node-lifecycle';
import { LEAVING_HELD_LABEL, LEAVING_LABEL } from '../../../../shared/domain/labels';
import { memoryLogger } from '../../../support/real-deps';
import { fixture, GROUP, kinds, NOW, W1, world } from './support';

let current: ReturnType<typeof world> | undefined;
const setUp = (...args: Parameters<typeof world>) => {
  current = world(...args);
  return current;
};
afterEach(() => current?.restore());

const run = (w: ReturnType<typeof world>, event: unknown, dryRun = false) => {
  const request = parseLifecycleRequest(event);
  return nodeLifecycle(w.deps, { request, dryRun, log: memoryLogger().logger });
};
const terminating = (w: ReturnType<typeof world>, id = W1) => {
  const instance = w.asg.groups[0]?.instances.find((i) => i.id === id);
  if (instance) instance.state = 'Terminating:Wait';
};

describe('node-lifecycle: a terminate hook', () => {
  it('drains the node and labels it leaving in one versioned update, and completes nothing while tasks run', async () => {
    const w = setUp();
    w.nodes.run('w1', 2);
    terminating(w);
    const { outcomes } = await run(w, fixture('terminate-hook.json'));
    expect(kinds(outcomes)).toEqual(['acted/drained']);
    const w1 = w.nodes.node('w1');
    expect(w1.availability).toBe('drain');
    expect(w1.labels[LEAVING_LABEL]).toBe(`terminate-hook ${NOW.toISOString()} ${GROUP}`);
    expect(w1.version).toBe(6); // one update
    expect(w.asg.completed).toEqual([]);
    expect(w.notifier.notices.map((n) => n.title)).toEqual([
      `Draining w1: Auto Scaling is terminating ${W1}`,
    ]);
  });

  it('ignores a late delivery for an instance Auto Scaling keeps after all (InService again): nothing drained', async () => {
    const w = setUp();
    w.nodes.run('w1', 2);
    const { outcomes } = await run(w, fixture('terminate-hook.json')); // W1 is InService
    expect(outcomes[0]).toMatchObject({
      kind: 'ignored',
      reason: 'not-leaving-state',
      detail: expect.stringContaining('InService'),
    });
    expect(w.nodes.node('w1').availability).toBe('active');
    expect(w.nodes.node('w1').labels[LEAVING_LABEL]).toBeUndefined();
  });

  it('changes nothing on a second delivery', async () => {
    const w = setUp();
    w.nodes.run('w1', 2);
    terminating(w);
    await run(w, fixture('terminate-hook.json'));
    const { outcomes } = await run(w, fixture('terminate-hook.json'));
    expect(kinds(outcomes)).toEqual(['waiting/tasks-left']);
    expect(w.nodes.node('w1').version).toBe(6);
    expect(w.notifier.notices).toHaveLength(1);
  });

  it('lets an empty node (drained by a scale-in) leave and completes the hook at once', async () => {
    const w = setUp();
    terminating(w);
    const { outcomes } = await run(w, fixture('terminate-hook.json'));
    expect(outcomes[0]).toMatchObject({ kind: 'acted', reason: 'left', hostname: 'w1' });
    expect(w.nodes.removed).toEqual(['w1']);
    expect(w.asg.completed).toEqual([
      { group: GROUP, hook: 'swarm-reflex-drain', instance: W1, result: 'CONTINUE' },
    ]);
  });

  it('delivered twice at once: one drain, one removal, one completion', async () => {
    const w = setUp();
    terminating(w);
    w.asg.hooks.latencyMs = 5;
    const results = await Promise.all([
      run(w, fixture('terminate-hook.json')),
      run(w, fixture('terminate-hook.json')),
    ]);
    expect(w.nodes.removed).toEqual(['w1']);
    expect(w.asg.completed).toHaveLength(1);
    // Which of the two loses, and how it learns it (the claim, the label already there, or the
    // node already gone), depends on the interleaving; that one acts and the other changes
    // nothing does not.
    const answered = results.flatMap((r) => kinds(r.outcomes)).sort();
    expect(answered).toHaveLength(2);
    expect(answered[0]).toBe('acted/left');
    expect(answered[1]).toMatch(/^(skipped\/(in-progress|already-leaving)|ignored\/no-node)$/);
  });

  it('delivered twice at once to a busy node: one update', async () => {
    const w = setUp();
    w.nodes.run('w1', 1);
    terminating(w);
    await Promise.all([run(w, fixture('terminate-hook.json')), run(w, fixture('terminate-hook.json'))]);
    expect(w.nodes.node('w1').version).toBe(6);
    expect(w.notifier.notices).toHaveLength(1);
  });

  it('ignores a foreign group without calling anything', async () => {
    const w = setUp();
    const event = fixture('terminate-hook.json') as { detail: Record<string, string> };
    event.detail.AutoScalingGroupName = 'someone-elses-group';
    const { outcomes } = await run(w, event);
    expect(kinds(outcomes)).toEqual(['ignored/foreign-group']);
    expect(w.asg.mock.calls()).toHaveLength(0);
    expect(w.ec2.mock.calls()).toHaveLength(0);
    expect(w.nodes.node('w1').version).toBe(5);
  });

  it('ignores an instance without the cluster tag: only EC2 is read', async () => {
    const w = setUp();
    delete w.ec2.instances[0]?.tags['swarm-reflex:cluster'];
    const { outcomes } = await run(w, fixture('terminate-hook.json'));
    expect(kinds(outcomes)).toEqual(['ignored/not-cluster-instance']);
    expect(w.asg.mock.calls()).toHaveLength(0);
    expect(w.nodes.node('w1').version).toBe(5);
  });

  it('ignores an instance no node runs on, and one that backs two nodes', async () => {
    const w = setUp();
    terminating(w);
    w.nodes.node('w1').engineLabels = {};
    expect(kinds((await run(w, fixture('terminate-hook.json'))).outcomes)).toEqual(['ignored/no-node']);
    w.nodes.node('w1').engineLabels = { 'aws.instance-id': W1 };
    w.nodes.node('w2').address = w.ec2.instances[0]?.privateIp ?? '';
    expect(kinds((await run(w, fixture('terminate-hook.json'))).outcomes)).toEqual([
      'ignored/instance-in-use',
    ]);
    expect(w.nodes.node('w1').version).toBe(5);
    expect(w.nodes.node('w2').version).toBe(5);
  });

  it('drains a manager whose demotion would lose quorum, keeps it a manager and says so once (critical)', async () => {
    const w = setUp();
    const m3 = w.nodes.node('m3');
    m3.state = 'down';
    m3.manager = { leader: false, reachability: 'unreachable', addr: '' };
    const event = fixture('terminate-hook.json') as { detail: Record<string, string> };
    event.detail.EC2InstanceId = 'i-0a1b2c3d4e5f6000b';
    w.asg.groups[0]?.instances.push({ id: 'i-0a1b2c3d4e5f6000b', state: 'Terminating:Wait' });
    const first = await run(w, event);
    await run(w, event);
    expect(first.outcomes[0]).toMatchObject({ kind: 'waiting', reason: 'quorum-at-risk', hostname: 'm2' });
    const m2 = w.nodes.node('m2');
    expect(m2.role).toBe('manager');
    expect(m2.availability).toBe('drain');
    expect(m2.labels[LEAVING_HELD_LABEL]).toBe(NOW.toISOString());
    expect(w.nodes.demoted).toEqual([]);
    const critical = w.notifier.notices.filter((n) => n.severity === 'critical');
    expect(critical.map((n) => n.title)).toEqual(['Leaving manager m2 cannot be demoted safely']);
    expect(critical[0]?.text).toMatch(/would leave 1 reachable of 2 managers/);
  });

  it('shows the plan in a dry run and changes nothing', async () => {
    const w = setUp();
    terminating(w);
    const { outcomes, dryRun } = await run(w, fixture('terminate-hook.json'), true);
    expect(dryRun).toBe(true);
    expect(outcomes[0]).toMatchObject({
      kind: 'skipped',
      reason: 'dry-run',
      steps: ['drain w1 as leaving (terminate-hook)', expect.stringMatching(/^tell people/)],
    });
    expect(w.nodes.node('w1').version).toBe(5);
    expect(w.asg.completed).toEqual([]);
    expect(w.notifier.notices).toEqual([]);
  });
});

describe('node-lifecycle: leaving managers are demoted by the reconcile pass only', () => {
  it('two terminate hooks for two empty managers at once demote neither; the next pass demotes one', async () => {
    const w = setUp({
      groups: [
        {
          name: 'swarm-reflex-prod-managers',
          instances: [
            { id: 'i-0a1b2c3d4e5f6000b', state: 'Terminating:Wait' },
            { id: 'i-0a1b2c3d4e5f6000c', state: 'Terminating:Wait' },
          ],
          hooks: [{ name: 'swarm-reflex-drain', transition: 'terminate', heartbeatTimeout: 900 }],
        },
      ],
    });
    const event = (id: string) => {
      const e = fixture('terminate-hook.json') as { detail: Record<string, string> };
      e.detail.EC2InstanceId = id;
      e.detail.AutoScalingGroupName = 'swarm-reflex-prod-managers';
      return e;
    };
    const results = await Promise.all([
      run(w, event('i-0a1b2c3d4e5f6000b')),
      run(w, event('i-0a1b2c3d4e5f6000c')),
    ]);
    expect(results.flatMap((r) => kinds(r.outcomes))).toEqual(['acted/drained', 'acted/drained']);
    expect(w.nodes.demoted).toEqual([]);
    await run(w, { reconcile: true });
    expect(w.nodes.demoted).toHaveLength(1);
  });
});

describe('node-lifecycle: a launch hook', () => {
  it('is only noted: the reconcile pass completes it', async () => {
    const w = setUp();
    const { outcomes } = await run(w, fixture('launch-hook.json'));
    expect(kinds(outcomes)).toEqual(['waiting/launch-pending']);
    expect(w.asg.mock.calls()).toHaveLength(0);
    expect(w.ec2.mock.calls()).toHaveLength(0);
  });
});

describe('node-lifecycle: hooks another tool put on the group', () => {
  const named = (file: string, hook: string) => {
    const event = fixture(file) as { detail: Record<string, unknown> };
    return { ...event, detail: { ...event.detail, LifecycleHookName: hook } };
  };

  it('drains the node on another tool’s terminate hook, but never completes that hook', async () => {
    const w = setUp();
    w.nodes.run('w1', 2);
    terminating(w);
    const { outcomes } = await run(w, named('terminate-hook.json', 'backup-agent-flush'));
    expect(outcomes[0]).toMatchObject({
      kind: 'acted',
      reason: 'drained',
      detail: expect.stringContaining('not in LIFECYCLE_HOOKS'),
    });
    expect(w.nodes.node('w1').availability).toBe('drain');
    expect(w.asg.completed).toEqual([]);
  });

  it('lets an empty node leave on another tool’s terminate hook once Auto Scaling shows it terminating, completing nothing', async () => {
    const w = setUp();
    const group = w.asg.groups[0];
    if (group) group.hooks = [{ name: 'backup-agent-flush', transition: 'terminate' }];
    terminating(w);
    const { outcomes } = await run(w, named('terminate-hook.json', 'backup-agent-flush'));
    expect(kinds(outcomes)).toEqual(['acted/drained']);
    // The reconcile pass reads the instance in Terminating:Wait: the node leaves.
    const pass = await run(w, { reconcile: true });
    expect(pass.outcomes[0]).toMatchObject({
      kind: 'acted',
      reason: 'left',
      detail: expect.stringContaining('no hook of ours'),
    });
    expect(w.nodes.removed).toEqual(['w1']);
    expect(w.asg.completed).toEqual([]);
  });

  it('demotes a leaving manager (quorum-safe) while only another tool’s hook holds its instance', async () => {
    const w = setUp({
      groups: [
        {
          name: 'swarm-reflex-prod-managers',
          instances: [{ id: 'i-0a1b2c3d4e5f6000c', state: 'Terminating:Wait' }],
          hooks: [{ name: 'backup-agent-flush', transition: 'terminate', heartbeatTimeout: 900 }],
        },
      ],
    });
    const n = w.nodes.node('m3');
    n.labels = {
      ...n.labels,
      [LEAVING_LABEL]: `terminate-hook ${NOW.toISOString()} swarm-reflex-prod-managers`,
    };
    n.availability = 'drain';
    expect(kinds((await run(w, { reconcile: true })).outcomes)).toEqual(['acted/demoted']);
    expect(w.nodes.demoted).toEqual(['m3']);
    expect(w.asg.completed).toEqual([]);
  });

  it('ignores another tool’s launch hook without calling anything', async () => {
    const w = setUp();
    const { outcomes } = await run(w, named('launch-hook.json', 'config-agent-ready'));
    expect(kinds(outcomes)).toEqual(['ignored/foreign-hook']);
    expect(w.asg.mock.calls()).toHaveLength(0);
  });
});

describe('node-lifecycle: EC2 and AWS Health events', () => {
  it('drains at once on a Spot interruption, and removes a node that is down already', async () => {
    const w = setUp();
    const { outcomes } = await run(w, fixture('spot-interruption.json'));
    expect(kinds(outcomes)).toEqual(['acted/drained']);
    expect(w.nodes.node('w1').labels[LEAVING_LABEL]).toBe(`spot ${NOW.toISOString()}`);
    expect(w.notifier.notices[0]?.severity).toBe('warning');
    expect(kinds((await run(w, fixture('spot-interruption.json'))).outcomes)).toEqual([
      'skipped/already-leaving',
    ]);

    w.nodes.node('w2').state = 'down';
    const event = fixture('spot-interruption.json') as { detail: Record<string, string> };
    event.detail['instance-id'] = 'i-0a1b2c3d4e5f60002';
    const gone = await run(w, event);
    expect(gone.outcomes[0]).toMatchObject({ kind: 'acted', reason: 'removed', hostname: 'w2' });
    expect(w.nodes.removed).toEqual(['w2']);
    expect(w.asg.completed).toEqual([]);
  });

  it('only tells people about a rebalance recommendation (ON_REBALANCE=notify), once', async () => {
    const w = setUp();
    const { outcomes } = await run(w, fixture('rebalance-recommendation.json'));
    expect(kinds(outcomes)).toEqual(['acted/marked']);
    expect(w.nodes.node('w1').availability).toBe('active');
    await run(w, fixture('rebalance-recommendation.json'));
    expect(w.notifier.notices).toHaveLength(1);
  });

  it('drains on a rebalance recommendation with ON_REBALANCE=drain, and a later Spot interruption relabels it', async () => {
    const w = setUp();
    w.deps.settings = { ...w.deps.settings, onRebalance: 'drain' };
    expect(kinds((await run(w, fixture('rebalance-recommendation.json'))).outcomes)).toEqual([
      'acted/drained',
    ]);
    expect(w.nodes.node('w1').availability).toBe('drain');
    expect(kinds((await run(w, fixture('spot-interruption.json'))).outcomes)).toEqual(['acted/drained']);
    expect(w.nodes.node('w1').labels[LEAVING_LABEL]).toMatch(/^spot /);
  });

  it('names node, instance and window for an AWS Health scheduled change, and drains only within the lead', async () => {
    const w = setUp();
    const { outcomes } = await run(w, fixture('health-scheduled-change.json'));
    expect(kinds(outcomes)).toEqual(['acted/marked']);
    const w1 = w.nodes.node('w1');
    expect(w1.availability).toBe('active');
    expect(w1.labels[LEAVING_LABEL]).toBe(
      `scheduled ${NOW.toISOString()} 2026-12-08T08:00:00.000Z/2026-12-08T10:00:00.000Z`,
    );
    expect(w.notifier.notices[0]).toMatchObject({
      severity: 'warning',
      title: `AWS maintenance for w1 (${W1}) at 2026-12-08T08:00:00.000Z`,
    });
    expect(kinds((await run(w, fixture('health-scheduled-change.json'))).outcomes)).toEqual([
      'skipped/already-leaving',
    ]);

    w.clock.now = new Date('2026-12-08T07:30:00Z');
    const event = fixture('health-scheduled-change.json') as { detail: Record<string, unknown> };
    (event.detail.affectedEntities as Array<{ entityValue: string }>)[0] = {
      entityValue: 'i-0a1b2c3d4e5f60002',
    };
    expect(kinds((await run(w, event)).outcomes)).toEqual(['acted/drained']);
    expect(w.nodes.node('w2').availability).toBe('drain');
  });

  it('removes a node whose instance shuts down once it is down, and ignores other states without a call', async () => {
    const w = setUp();
    w.nodes.node('w1').state = 'down';
    const { outcomes } = await run(w, fixture('state-change-shutting-down.json'));
    expect(outcomes[0]).toMatchObject({ kind: 'acted', reason: 'removed' });
    expect(w.nodes.removed).toEqual(['w1']);

    const running = fixture('state-change-shutting-down.json') as { detail: Record<string, string> };
    running.detail.state = 'running';
    w.ec2.mock.resetHistory();
    expect(kinds((await run(w, running)).outcomes)).toEqual(['ignored/not-leaving-state']);
    expect(w.ec2.mock.calls()).toHaveLength(0);
  });
});
