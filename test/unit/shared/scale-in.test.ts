import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/adapters/logger';
import { DependencyUnavailableError } from '../../../shared/domain/errors';
import { SCALE_IN_CLAIM_LABEL, SCALE_IN_LABEL } from '../../../shared/domain/labels';
import { completeScaleIns } from '../../../shared/domain/scale-in';
import { FakeNodes, recordingNotifier } from '../../support/fake-nodes';

const log = createLogger({ level: 'error', sink: () => {} });
const now = new Date('2026-11-24T12:00:00Z');

function setup() {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('w1', { engineLabels: { 'aws.instance-id': 'i-00000000000000001' } })
    .run('w1', 2);
  swarm.node('w1').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:59:00Z' };
  swarm.node('w1').availability = 'drain';
  const terminated: string[] = [];
  const deps = {
    swarm,
    tasks: swarm,
    group: {
      describe: async () => ({
        name: 'g',
        min: 0,
        max: 5,
        desired: 2,
        instances: [],
        lastActivityAt: undefined,
      }),
      setDesired: async () => {},
      terminateAndShrink: async (id: string) => {
        terminated.push(id);
        return { kind: 'terminated' as const };
      },
    },
    notifier: recordingNotifier(),
    clock: { now: () => now },
  };
  return { swarm, deps, terminated };
}

describe('completeScaleIns', () => {
  it('waits while the drained worker still runs tasks', async () => {
    const { deps, terminated } = setup();
    expect(await completeScaleIns(deps, log)).toEqual([
      expect.objectContaining({ kind: 'draining', tasks: 2 }),
    ]);
    expect(terminated).toEqual([]);
  });

  it('finishes a worker that died while draining: Swarm still lists its last tasks', async () => {
    const { deps, swarm, terminated } = setup();
    swarm.node('w1').state = 'down';
    expect(await completeScaleIns(deps, log)).toEqual([
      expect.objectContaining({ kind: 'scaled-in', hostname: 'w1' }),
    ]);
    expect(terminated).toEqual(['i-00000000000000001']);
    expect(swarm.removed).toEqual(['w1']);
  });

  it('leaves a worker another caller claimed a moment ago to that caller', async () => {
    const { deps, swarm, terminated } = setup();
    swarm.tasks = [];
    swarm.node('w1').labels = { ...swarm.node('w1').labels, [SCALE_IN_CLAIM_LABEL]: '2026-11-24T11:59:30Z' };
    expect(await completeScaleIns(deps, log)).toEqual([expect.objectContaining({ kind: 'in-progress' })]);
    expect(terminated).toEqual([]);
  });

  it('hands back a worker whose drain has not finished after SCALE_IN_DRAIN_TIMEOUT_SECONDS (default 900)', async () => {
    const { deps, swarm, terminated } = setup();
    // Drained 15 minutes and one second ago, and one task never stops.
    swarm.node('w1').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:44:59Z', 'keep.me': 'yes' };
    expect(await completeScaleIns(deps, log)).toEqual([
      expect.objectContaining({ kind: 'handed-back', hostname: 'w1', reason: 'drain-timeout' }),
    ]);
    expect(swarm.node('w1').availability).toBe('active');
    expect(swarm.node('w1').labels).toEqual({ 'keep.me': 'yes' });
    expect(terminated).toEqual([]);
    expect(deps.notifier.notices).toEqual([
      expect.objectContaining({ severity: 'warning', title: expect.stringContaining('w1') }),
    ]);
    // Handed back once: the next call has nothing left to do.
    expect(await completeScaleIns(deps, log)).toEqual([]);
    expect(deps.notifier.notices).toHaveLength(1);
  });

  it('measures the drain timeout from the scale-in label with the configured setting', async () => {
    const { deps, swarm } = setup();
    const short = { ...deps, settings: { scaleInDrainTimeoutSeconds: 30 } };
    expect(await completeScaleIns(short, log)).toEqual([
      expect.objectContaining({ kind: 'handed-back', reason: 'drain-timeout' }),
    ]);
    swarm.node('w1').availability = 'drain';
    swarm.node('w1').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:59:45Z' };
    expect(await completeScaleIns(short, log)).toEqual([expect.objectContaining({ kind: 'draining' })]);
  });

  it('leaves a timed-out worker to the caller that changed it first', async () => {
    const { deps, swarm } = setup();
    swarm.node('w1').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:00:00Z' };
    const [a, b] = await Promise.all([completeScaleIns(deps, log), completeScaleIns(deps, log)]);
    expect([...(a ?? []), ...(b ?? [])].map((p) => p.kind).sort()).toEqual(['handed-back', 'in-progress']);
    expect(deps.notifier.notices).toHaveLength(1);
  });

  it('hands the worker back when Auto Scaling refuses the termination for good, and completes the others', async () => {
    const { deps, swarm, terminated } = setup();
    swarm.tasks = [];
    swarm.add('w2', { engineLabels: { 'aws.instance-id': 'i-00000000000000002' } });
    swarm.node('w2').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:59:00Z' };
    swarm.node('w2').availability = 'drain';
    const refusing = {
      ...deps,
      group: {
        ...deps.group,
        terminateAndShrink: async (id: string) => {
          if (id === 'i-00000000000000001')
            return {
              kind: 'refused' as const,
              reason: 'at-min' as const,
              message: 'Currently, desiredSize equals minSize (2).',
            };
          terminated.push(id);
          return { kind: 'terminated' as const };
        },
      },
    };
    const result = await completeScaleIns(refusing, log);
    expect(result).toEqual([
      expect.objectContaining({
        kind: 'handed-back',
        hostname: 'w1',
        reason: 'terminate-refused',
        detail: expect.stringContaining('desiredSize equals minSize'),
      }),
      expect.objectContaining({ kind: 'scaled-in', hostname: 'w2' }),
    ]);
    expect(swarm.node('w1')).toMatchObject({ availability: 'active', labels: {} });
    expect(swarm.removed).toEqual(['w2']);
    expect(terminated).toEqual(['i-00000000000000002']);
  });

  it('reports a transient failure of one completion and completes the others, when asked to report', async () => {
    const { deps, swarm, terminated } = setup();
    swarm.tasks = [];
    swarm.add('w2', { engineLabels: { 'aws.instance-id': 'i-00000000000000002' } });
    swarm.node('w2').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:59:00Z' };
    const throttled = {
      ...deps,
      group: {
        ...deps.group,
        terminateAndShrink: async (id: string) => {
          if (id === 'i-00000000000000001')
            throw new DependencyUnavailableError(
              'aws',
              'terminating i-00000000000000001: AWS answered Throttling',
            );
          terminated.push(id);
          return { kind: 'terminated' as const };
        },
      },
    };
    expect(await completeScaleIns(throttled, log, undefined, { failures: 'report' })).toEqual([
      expect.objectContaining({
        kind: 'failed',
        hostname: 'w1',
        detail: expect.stringContaining('Throttling'),
      }),
      expect.objectContaining({ kind: 'scaled-in', hostname: 'w2' }),
    ]);
    expect(swarm.removed).toEqual(['w2']);
    // By default (what the sweep relies on) the failure is thrown, after the others were done.
    swarm.node('w1').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:59:00Z' };
    await expect(completeScaleIns(throttled, log)).rejects.toThrow(/Throttling/);
  });
});

describe('completeScaleIns: the guards of a scale-in’s second phase', () => {
  /** setup() with w1 drained and empty. */
  function empty() {
    const s = setup();
    s.swarm.tasks = [];
    return s;
  }
  const refusal = (reason: 'at-min' | 'invalid') => ({
    kind: 'refused' as const,
    reason,
    message: reason === 'at-min' ? 'Currently, desiredSize equals minSize (2).' : 'Instance is in Standby.',
  });

  it('takes over a claim once it is two minutes old, not a moment before', async () => {
    const claimedAt = (ms: number) => new Date(now.getTime() - ms).toISOString();
    const young = empty();
    young.swarm.node('w1').labels = {
      ...young.swarm.node('w1').labels,
      [SCALE_IN_CLAIM_LABEL]: claimedAt(119_999),
    };
    expect(await completeScaleIns(young.deps, log)).toEqual([
      expect.objectContaining({ kind: 'in-progress' }),
    ]);
    const expired = empty();
    expired.swarm.node('w1').labels = {
      ...expired.swarm.node('w1').labels,
      [SCALE_IN_CLAIM_LABEL]: claimedAt(120_000),
    };
    expect(await completeScaleIns(expired.deps, log)).toEqual([
      expect.objectContaining({ kind: 'scaled-in' }),
    ]);
    expect(expired.terminated).toEqual(['i-00000000000000001']);
  });

  it('counts only tasks that still occupy the node: finished ones and ones placed nowhere do not', async () => {
    const { deps, swarm, terminated } = setup();
    const w1 = swarm.node('w1').id;
    swarm.tasks = [
      { id: 'a', serviceId: 's', nodeId: w1, state: 'complete', desiredState: 'shutdown' },
      { id: 'b', serviceId: 's', nodeId: w1, state: 'failed', desiredState: 'running' },
      { id: 'c', serviceId: 's', nodeId: '', state: 'pending', desiredState: 'running' },
    ];
    expect(await completeScaleIns(deps, log)).toEqual([expect.objectContaining({ kind: 'scaled-in' })]);
    expect(terminated).toEqual(['i-00000000000000001']);
  });

  it('reads nothing more when no worker is being scaled in', async () => {
    const { deps, swarm } = setup();
    swarm.node('w1').labels = {};
    const blind = {
      ...deps,
      tasks: {
        listTasks: async () => {
          throw new Error('tasks read');
        },
      },
    };
    expect(await completeScaleIns(blind, log)).toEqual([]);
  });

  it('hands back a drain exactly at SCALE_IN_DRAIN_TIMEOUT_SECONDS', async () => {
    const { deps, swarm } = setup();
    swarm.node('w1').labels = { [SCALE_IN_LABEL]: new Date(now.getTime() - 900_000).toISOString() };
    expect(await completeScaleIns(deps, log)).toEqual([expect.objectContaining({ kind: 'handed-back' })]);
  });

  it('leaves a node to the caller whose write came first when its claim conflicts', async () => {
    const { deps, swarm, terminated } = empty();
    const update = swarm.updateNode.bind(swarm);
    swarm.updateNode = async (node, change) => {
      swarm.node('w1').version++; // another caller wrote it since it was read
      return update(node, change);
    };
    expect(await completeScaleIns(deps, log)).toEqual([expect.objectContaining({ kind: 'in-progress' })]);
    expect(terminated).toEqual([]);
    expect(swarm.removed).toEqual([]);
  });

  it('fails, and terminates nothing, when its claim cannot be written for another reason than a conflict', async () => {
    const { deps, swarm, terminated } = empty();
    swarm.updateNode = async () => {
      throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    };
    expect(await completeScaleIns(deps, log, undefined, { failures: 'report' })).toEqual([
      expect.objectContaining({ kind: 'failed', hostname: 'w1' }),
    ]);
    expect(terminated).toEqual([]);
  });

  it('never terminates without a worker group, and never without the node’s instance label', async () => {
    const noGroup = empty();
    expect(await completeScaleIns({ ...noGroup.deps, group: undefined }, log)).toEqual([
      expect.objectContaining({ kind: 'scaled-in', instance: 'i-00000000000000001' }),
    ]);
    expect(noGroup.swarm.removed).toEqual(['w1']);
    expect(noGroup.deps.notifier.notices[0]?.text).toContain('no cloud');

    const unlabelled = empty();
    unlabelled.swarm.node('w1').engineLabels = {};
    expect(await completeScaleIns(unlabelled.deps, log)).toEqual([
      expect.objectContaining({ kind: 'scaled-in', instance: undefined }),
    ]);
    expect(unlabelled.terminated).toEqual([]);
    expect(unlabelled.swarm.removed).toEqual(['w1']);

    const both = empty();
    expect(await completeScaleIns(both.deps, log)).toEqual([expect.objectContaining({ kind: 'scaled-in' })]);
    expect(both.deps.notifier.notices[0]?.text).toContain('i-00000000000000001 was terminated');
  });

  it('fails, rather than calling it in progress, when handing back a timed-out drain fails for another reason than a conflict', async () => {
    const { deps, swarm } = setup();
    swarm.node('w1').labels = { [SCALE_IN_LABEL]: '2026-11-24T11:00:00Z' };
    swarm.updateNode = async () => {
      throw new DependencyUnavailableError('docker', 'connect ECONNREFUSED');
    };
    expect(await completeScaleIns(deps, log, undefined, { failures: 'report' })).toEqual([
      expect.objectContaining({ kind: 'failed', hostname: 'w1' }),
    ]);
  });

  it('leaves a refused termination to the caller that handed the worker back first', async () => {
    const { deps, swarm } = empty();
    const refusing = {
      ...deps,
      group: {
        ...deps.group,
        terminateAndShrink: async () => {
          swarm.node('w1').labels = {}; // another caller handed it back meanwhile
          return refusal('at-min');
        },
      },
    };
    expect(await completeScaleIns(refusing, log)).toEqual([expect.objectContaining({ kind: 'in-progress' })]);
    expect(deps.notifier.notices).toEqual([]);
  });

  it('re-reads and retries handing back after a refusal up to three times when the node keeps changing', async () => {
    const attempt = async (conflicts: number) => {
      const { deps, swarm } = empty();
      const update = swarm.updateNode.bind(swarm);
      let writes = 0;
      swarm.updateNode = async (node, change) => {
        // The first write is the claim; each hand-back after it conflicts `conflicts` times.
        if (writes++ > 0 && writes - 1 <= conflicts) swarm.node('w1').version++;
        return update(node, change);
      };
      const refusing = {
        ...deps,
        group: { ...deps.group, terminateAndShrink: async () => refusal('invalid') },
      };
      return completeScaleIns(refusing, log, undefined, { failures: 'report' });
    };
    expect(await attempt(2)).toEqual([
      expect.objectContaining({ kind: 'handed-back', reason: 'terminate-refused' }),
    ]);
    expect(await attempt(3)).toEqual([expect.objectContaining({ kind: 'failed' })]);
  });

  it('tells people to lower the group’s minimum only when that is why Auto Scaling refused', async () => {
    for (const reason of ['at-min', 'invalid'] as const) {
      const { deps } = empty();
      const refusing = { ...deps, group: { ...deps.group, terminateAndShrink: async () => refusal(reason) } };
      await completeScaleIns(refusing, log);
      expect(deps.notifier.notices[0]?.text.includes('lower the minimum'), reason).toBe(reason === 'at-min');
    }
  });
});
