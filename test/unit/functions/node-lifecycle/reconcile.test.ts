import { afterEach, describe, expect, it } from 'vitest';
import { nodeLifecycle } from '../../../../functions/node-lifecycle/node-lifecycle';
import { LEAVING_HEARTBEAT_LABEL, LEAVING_LABEL } from '../../../../shared/domain/labels';
import { autoScalingError } from '../../../support/fake-autoscaling';
import { memoryLogger } from '../../../support/real-deps';
import { GROUP, kinds, NOW, W1, world } from './support';

let current: ReturnType<typeof world> | undefined;
const setUp = (...args: Parameters<typeof world>) => {
  current = world(...args);
  return current;
};
afterEach(() => current?.restore());

const pass = (w: ReturnType<typeof world>, dryRun = false) =>
  nodeLifecycle(w.deps, {
    request: { kind: 'reconcile', dryRun },
    dryRun: false,
    log: memoryLogger().logger,
  });
const state = (w: ReturnType<typeof world>, id: string, lifecycleState: string) => {
  const i = w.asg.groups[0]?.instances.find((x) => x.id === id);
  if (i) i.state = lifecycleState;
  else w.asg.groups[0]?.instances.push({ id, state: lifecycleState });
};
const later = (w: ReturnType<typeof world>, seconds: number) => {
  w.clock.now = new Date(w.clock.now.getTime() + seconds * 1_000);
};
const leaving = (w: ReturnType<typeof world>, host: string, value: string) => {
  const n = w.nodes.node(host);
  n.labels = { ...n.labels, [LEAVING_LABEL]: value };
  n.availability = 'drain';
};

describe('node-lifecycle reconcile: Terminating:Wait', () => {
  it('waits while tasks run, heartbeats only past half the hook timeout, then completes once the node is empty', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    leaving(w, 'w1', `terminate-hook ${NOW.toISOString()} ${GROUP}`);
    w.nodes.run('w1', 1);
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/tasks-left']);
    expect(w.asg.heartbeats).toEqual([]);

    later(w, 301); // the hook's heartbeat timeout is 600 s
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/tasks-left']);
    expect(w.asg.heartbeats).toHaveLength(1);
    expect(w.nodes.node('w1').labels[LEAVING_HEARTBEAT_LABEL]).toBe(w.clock.now.toISOString());
    later(w, 60);
    await pass(w);
    expect(w.asg.heartbeats).toHaveLength(1);
    expect(w.asg.completed).toEqual([]);

    w.nodes.tasks = [];
    const { outcomes } = await pass(w);
    expect(outcomes[0]).toMatchObject({ kind: 'acted', reason: 'left', hostname: 'w1', instance: W1 });
    expect(w.nodes.removed).toEqual(['w1']);
    expect(w.asg.completed).toEqual([
      { group: GROUP, hook: 'swarm-reflex-drain', instance: W1, result: 'CONTINUE' },
    ]);
  });

  it('completes after LIFECYCLE_DRAIN_TIMEOUT_SECONDS with a task stuck on the node, with a warning', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    leaving(w, 'w1', `terminate-hook ${NOW.toISOString()} ${GROUP}`);
    w.nodes.run('w1', 1);
    later(w, 600);
    const { outcomes } = await pass(w);
    expect(outcomes[0]).toMatchObject({ kind: 'acted', reason: 'left' });
    expect(w.asg.completed).toHaveLength(1);
    expect(w.notifier.notices.at(-1)).toMatchObject({ severity: 'warning' });
    expect(w.notifier.notices.at(-1)?.text).toMatch(
      /after LIFECYCLE_DRAIN_TIMEOUT_SECONDS \(600 s\) with 1 task/,
    );
  });

  it('completes at once for an instance that runs no node', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Terminating:Wait');
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/completed']);
    expect(w.asg.completed.map((c) => c.instance)).toEqual(['i-0a1b2c3d4e5f60009']);
  });

  it('starts the drain itself when the event was missed, with a heartbeat at once', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    w.nodes.run('w1', 1);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/drained']);
    expect(w.nodes.node('w1').availability).toBe('drain');
    expect(w.asg.heartbeats).toHaveLength(1);
  });

  it('demotes an empty leaving manager when quorum stays, and lets it leave in the next pass', async () => {
    const w = setUp({
      groups: [
        {
          name: 'swarm-reflex-prod-managers',
          instances: [{ id: 'i-0a1b2c3d4e5f6000c', state: 'Terminating:Wait' }],
          hooks: [{ name: 'swarm-reflex-drain', transition: 'terminate', heartbeatTimeout: 900 }],
        },
      ],
    });
    leaving(w, 'm3', `terminate-hook ${NOW.toISOString()} swarm-reflex-prod-managers`);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/demoted']);
    expect(w.nodes.demoted).toEqual(['m3']);
    expect(w.asg.completed).toEqual([]);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/left']);
    expect(w.nodes.removed).toEqual(['m3']);
    expect(w.asg.completed).toHaveLength(1);
  });

  it('takes "No active Lifecycle Action" for an action completed by someone else as done, and tells nobody again', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Terminating:Wait');
    w.asg.hooks.failOn = (action) =>
      action === 'CompleteLifecycleAction'
        ? autoScalingError(
            'ValidationError',
            'No active Lifecycle Action found with instance ID i-0a1b2c3d4e5f60009',
          )
        : undefined;
    const { outcomes } = await pass(w);
    expect(outcomes[0]).toMatchObject({
      kind: 'skipped',
      reason: 'already-done',
      steps: [expect.stringMatching(/was already completed/)],
    });
    expect(w.notifier.notices).toEqual([]);
  });
});

describe('node-lifecycle reconcile: Pending:Wait', () => {
  it('completes with CONTINUE once a Ready node carries the instance ID', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60002', 'Pending:Wait');
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/completed']);
    expect(w.asg.completed).toEqual([
      { group: GROUP, hook: 'swarm-reflex-join', instance: 'i-0a1b2c3d4e5f60002', result: 'CONTINUE' },
    ]);
  });

  it('waits for a node that has not joined, and abandons it after LAUNCH_JOIN_TIMEOUT_SECONDS', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Pending:Wait'); // launched 11:50, 10 minutes ago
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/not-joined']);
    later(w, 300);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/abandoned']);
    expect(w.asg.completed.map((c) => c.result)).toEqual(['ABANDON']);
    expect(w.notifier.notices.at(-1)).toMatchObject({
      severity: 'warning',
      title: 'i-0a1b2c3d4e5f60009 never joined the swarm',
    });
  });

  it('never abandons an instance that is a member already (back from Standby), whatever its LaunchTime', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60002', 'Pending:Wait'); // w2's instance, launched 11:50
    w.nodes.node('w2').state = 'down'; // its dockerd still restarting
    later(w, 3_600);
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/not-joined']);
    expect(w.asg.completed).toEqual([]);
    w.nodes.node('w2').state = 'ready';
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/completed']);
    expect(w.asg.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  it('never answers the hook of an instance without the cluster tag', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Pending:Wait');
    const foreign = w.ec2.instances.find((i) => i.id === 'i-0a1b2c3d4e5f60009');
    if (foreign) foreign.tags = {};
    later(w, 3_600);
    expect(kinds((await pass(w)).outcomes)).toEqual(['ignored/not-cluster-instance']);
    expect(w.asg.completed).toEqual([]);
  });
});

describe('node-lifecycle reconcile: only its own hooks (LIFECYCLE_HOOKS)', () => {
  /** The worker group with a hook of someone else's beside each of ours. */
  const withForeignHooks = () => {
    const w = setUp();
    w.asg.groups[0]?.hooks.push(
      { name: 'backup-agent-flush', transition: 'terminate', heartbeatTimeout: 600 },
      { name: 'config-agent-ready', transition: 'launch', heartbeatTimeout: 3_600 },
    );
    return w;
  };

  it('completes its own terminate hook and never one another tool put on the group', async () => {
    const w = withForeignHooks();
    state(w, W1, 'Terminating:Wait');
    leaving(w, 'w1', `terminate-hook ${NOW.toISOString()} ${GROUP}`);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/left']);
    expect(w.asg.completed).toEqual([
      { group: GROUP, hook: 'swarm-reflex-drain', instance: W1, result: 'CONTINUE' },
    ]);
  });

  it('says nothing more while another tool’s hook still holds an instance whose own hook it completed', async () => {
    const w = withForeignHooks();
    state(w, 'i-0a1b2c3d4e5f60002', 'Pending:Wait');
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/completed']);
    expect(w.asg.groups[0]?.instances[1]?.state).toBe('Pending:Wait'); // config-agent-ready still waits
    later(w, 60);
    expect(kinds((await pass(w)).outcomes)).toEqual(['skipped/already-done']);
    expect(w.notifier.notices).toHaveLength(1);
    expect(w.asg.completed).toHaveLength(1);
  });

  it('heartbeats only its own terminate hook', async () => {
    const w = withForeignHooks();
    state(w, W1, 'Terminating:Wait');
    leaving(w, 'w1', `terminate-hook ${NOW.toISOString()} ${GROUP}`);
    w.nodes.run('w1', 1);
    later(w, 301); // past half of either hook's heartbeat timeout
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/tasks-left']);
    expect(w.asg.heartbeats.map((h) => h.hook)).toEqual(['swarm-reflex-drain']);
  });

  it('completes and abandons only its own launch hook', async () => {
    const w = withForeignHooks();
    state(w, 'i-0a1b2c3d4e5f60002', 'Pending:Wait');
    state(w, 'i-0a1b2c3d4e5f60009', 'Pending:Wait');
    later(w, 3_600);
    expect(kinds((await pass(w)).outcomes).sort()).toEqual(['acted/abandoned', 'acted/completed']);
    expect(w.asg.completed.map((c) => `${c.hook} ${c.result}`).sort()).toEqual([
      'swarm-reflex-join ABANDON',
      'swarm-reflex-join CONTINUE',
    ]);
  });

  it('leaves an instance that waits only in another tool’s hooks alone, pass after pass', async () => {
    const w = setUp({
      groups: [
        {
          name: GROUP,
          instances: [
            { id: 'i-0a1b2c3d4e5f60002', state: 'Pending:Wait' },
            { id: 'i-0a1b2c3d4e5f60009', state: 'Terminating:Wait' },
          ],
          hooks: [
            { name: 'config-agent-ready', transition: 'launch' },
            { name: 'backup-agent-flush', transition: 'terminate' },
          ],
        },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const { outcomes } = await pass(w);
      expect(kinds(outcomes)).toEqual(['ignored/foreign-hook', 'ignored/foreign-hook']);
      // Each names the hooks that hold it, of its own transition.
      expect(outcomes.map((o) => o.detail.match(/LIFECYCLE_HOOKS \(([^)]*)\)/)?.[1])).toEqual([
        'config-agent-ready',
        'backup-agent-flush',
      ]);
      later(w, 3_600);
    }
    expect(w.asg.completed).toEqual([]);
    expect(w.notifier.notices).toEqual([]);
  });

  it('still drains an instance that waits only in another tool’s hook, and answers none', async () => {
    const w = setUp({
      groups: [
        {
          name: GROUP,
          instances: [{ id: W1, state: 'Terminating:Wait' }],
          hooks: [{ name: 'backup-agent-flush', transition: 'terminate', heartbeatTimeout: 3_600 }],
        },
      ],
    });
    w.nodes.run('w1', 1);
    await pass(w);
    expect(w.nodes.node('w1').availability).toBe('drain');
    w.nodes.tasks = [];
    await pass(w);
    expect(w.asg.completed).toEqual([]);
    expect(w.asg.heartbeats).toEqual([]);
  });
});

describe('node-lifecycle reconcile: labelled nodes', () => {
  it('removes a Spot node as soon as Swarm marks it down, without touching Auto Scaling', async () => {
    const w = setUp();
    leaving(w, 'w2', `spot ${NOW.toISOString()}`);
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/leaving']);
    w.nodes.node('w2').state = 'down';
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/removed']);
    expect(w.nodes.removed).toEqual(['w2']);
    expect(w.asg.completed).toEqual([]);
  });

  it('drains a node ahead of its maintenance window and hands it back once the window is over', async () => {
    const w = setUp();
    const n = w.nodes.node('w2');
    n.labels = {
      [LEAVING_LABEL]: `scheduled ${NOW.toISOString()} 2026-11-24T14:00:00.000Z/2026-11-24T15:00:00.000Z`,
    };
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/before-window']);
    later(w, 3_600);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/drained']);
    expect(w.nodes.node('w2').availability).toBe('drain');
    w.clock.now = new Date('2026-11-24T15:00:01Z');
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/handed-back']);
    expect(w.nodes.node('w2').availability).toBe('active');
    expect(w.nodes.node('w2').labels[LEAVING_LABEL]).toBeUndefined();
  });

  it('never removes a Ready node on the strength of its terminate-hook label alone (Auto Scaling unreadable, or the instance back in service)', async () => {
    const w = setUp();
    leaving(w, 'w1', `terminate-hook ${new Date(NOW.getTime() - 29 * 86_400_000).toISOString()} ${GROUP}`);
    w.nodes.run('w1', 5);
    w.asg.hooks.fail = autoScalingError('Throttling', 'Rate exceeded');
    expect(kinds((await pass(w)).outcomes)).toEqual(['failed', 'waiting/leaving']);
    w.asg.hooks.fail = undefined; // readable again: w1's instance is InService
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/leaving']);
    expect(w.nodes.removed).toEqual([]);
  });

  it('still removes down Spot nodes when Auto Scaling cannot be read', async () => {
    const w = setUp();
    leaving(w, 'w2', `spot ${NOW.toISOString()}`);
    w.nodes.node('w2').state = 'down';
    w.asg.hooks.fail = autoScalingError('Throttling', 'Rate exceeded');
    const { outcomes } = await pass(w);
    expect(kinds(outcomes)).toEqual(['failed', 'acted/removed']);
  });

  it('plans in a dry run and changes nothing', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Terminating:Wait');
    leaving(w, 'w2', `spot ${NOW.toISOString()}`);
    w.nodes.node('w2').state = 'down';
    const { outcomes, dryRun } = await pass(w, true);
    expect(dryRun).toBe(true);
    expect(kinds(outcomes)).toEqual(['skipped/dry-run', 'skipped/dry-run']);
    expect(w.nodes.removed).toEqual([]);
    expect(w.asg.completed).toEqual([]);
    expect(w.notifier.notices).toEqual([]);
  });
});

describe('node-lifecycle reconcile: the guards of a waiting instance', () => {
  it('never answers nor drains for a terminating instance without the cluster tag', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    const own = w.ec2.instances.find((i) => i.id === W1);
    if (own) own.tags = {};
    w.nodes.run('w1', 1);
    expect(kinds((await pass(w)).outcomes)).toEqual(['ignored/not-cluster-instance']);
    expect(w.nodes.node('w1').availability).toBe('active');
    expect(w.asg.completed).toEqual([]);
  });

  it('touches neither node when the terminating instance backs two of them (a reused address)', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    w.nodes.node('w1').engineLabels = {};
    w.nodes.node('w2').engineLabels = {};
    const address = w.ec2.instances.find((i) => i.id === W1)?.privateIp ?? '';
    w.nodes.node('w1').address = address;
    w.nodes.node('w2').address = address;
    const { outcomes } = await pass(w);
    expect(kinds(outcomes)).toEqual(['ignored/instance-in-use']);
    expect(outcomes[0]?.detail).toContain('(w1, w2)');
    expect(w.nodes.node('w1').availability).toBe('active');
    expect(w.nodes.node('w2').availability).toBe('active');
    expect(w.asg.completed).toEqual([]);
  });

  it('finishes a node it started draining even if a person labelled it excluded since', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    leaving(w, 'w1', `terminate-hook ${NOW.toISOString()} ${GROUP}`);
    const n = w.nodes.node('w1');
    n.labels = { ...n.labels, 'com.swarm-reflex.exclude': 'true' };
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/left']);
  });

  it('notes the heartbeat it sends when it starts a missed drain', async () => {
    const w = setUp();
    state(w, W1, 'Terminating:Wait');
    w.nodes.run('w1', 1);
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/drained']);
    expect(w.asg.heartbeats).toHaveLength(1);
    expect(w.nodes.node('w1').labels[LEAVING_HEARTBEAT_LABEL]).toBe(NOW.toISOString());
  });

  it('completes an instance going into the warm pool at once (it joins when it leaves the pool)', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Warmed:Pending:Wait');
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/completed']);
    expect(w.asg.completed).toEqual([
      { group: GROUP, hook: 'swarm-reflex-join', instance: 'i-0a1b2c3d4e5f60009', result: 'CONTINUE' },
    ]);
  });

  it('abandons a launch exactly LAUNCH_JOIN_TIMEOUT_SECONDS after its LaunchTime, not a second before', async () => {
    const w = setUp();
    state(w, 'i-0a1b2c3d4e5f60009', 'Pending:Wait'); // launched 11:50:00
    w.clock.now = new Date('2026-11-24T12:04:59.999Z');
    expect(kinds((await pass(w)).outcomes)).toEqual(['waiting/not-joined']);
    w.clock.now = new Date('2026-11-24T12:05:00Z');
    expect(kinds((await pass(w)).outcomes)).toEqual(['acted/abandoned']);
  });
});
