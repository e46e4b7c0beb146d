import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger';
import { completeScaleIns, SCALE_IN_CLAIM_LABEL, SCALE_IN_LABEL } from '../../../shared/scale-in';
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
        return true;
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
});
