import { afterEach, describe, expect, it } from 'vitest';
import { parseLifecycleRequest } from '../../../../functions/node-lifecycle/events';
import { nodeLifecycle } from '../../../../functions/node-lifecycle/node-lifecycle';
import { LEAVING_LABEL } from '../../../../shared/domain/labels';
import { memoryLogger } from '../../../support/real-deps';
import { fixture, kinds, W1, world } from './support';

let current: ReturnType<typeof world> | undefined;
const setUp = () => {
  current = world();
  return current;
};
afterEach(() => current?.restore());

const run = (w: ReturnType<typeof world>, event: unknown) =>
  nodeLifecycle(w.deps, { request: parseLifecycleRequest(event), dryRun: false, log: memoryLogger().logger });
const terminating = (w: ReturnType<typeof world>) => {
  const instance = w.asg.groups[0]?.instances.find((i) => i.id === W1);
  if (instance) instance.state = 'Terminating:Wait';
};

/** The node w1 as a person left it: excluded by label, or drained / paused by hand. */
const optOuts = [
  {
    name: 'labelled exclude=true',
    reason: 'excluded',
    set: { labels: { 'com.swarm-reflex.exclude': 'true' } },
  },
  {
    name: 'labelled exclude=TRUE',
    reason: 'excluded',
    set: { labels: { 'com.swarm-reflex.exclude': 'TRUE' } },
  },
  {
    name: 'labelled exclude=yes',
    reason: 'excluded',
    set: { labels: { 'com.swarm-reflex.exclude': 'yes' } },
  },
  {
    name: 'labelled exclude (empty)',
    reason: 'excluded',
    set: { labels: { 'com.swarm-reflex.exclude': '' } },
  },
  { name: 'drained by a person', reason: 'maintenance', set: { availability: 'drain' as const } },
  { name: 'paused by a person', reason: 'maintenance', set: { availability: 'pause' as const } },
];

describe('node-lifecycle never drains a node a person opted out', () => {
  for (const o of optOuts) {
    it(`a terminate hook for a node ${o.name}: skipped (${o.reason}), not drained, its hook neither completed nor kept waiting`, async () => {
      const w = setUp();
      w.nodes.run('w1', 2);
      Object.assign(w.nodes.node('w1'), o.set);
      const before = { ...w.nodes.node('w1') };
      terminating(w);
      const { outcomes } = await run(w, fixture('terminate-hook.json'));
      expect(kinds(outcomes)).toEqual([`skipped/${o.reason}`]);
      expect(outcomes[0]?.detail).toMatch(/default result/);
      expect(w.nodes.node('w1')).toMatchObject({
        availability: before.availability,
        version: before.version,
      });
      expect(w.nodes.node('w1').labels[LEAVING_LABEL]).toBeUndefined();
      expect(w.asg.completed).toEqual([]);
      expect(w.asg.heartbeats).toEqual([]);

      // The reconcile pass (which would start a missed drain) leaves it alone too.
      const pass = await run(w, { reconcile: true });
      expect(kinds(pass.outcomes)).toEqual([`skipped/${o.reason}`]);
      expect(w.nodes.node('w1').version).toBe(before.version);
      expect(w.asg.completed).toEqual([]);
      expect(w.asg.heartbeats).toEqual([]);
    });
  }

  it('a Spot interruption of an excluded node: skipped, not drained', async () => {
    const w = setUp();
    w.nodes.node('w1').labels = { 'com.swarm-reflex.exclude': 'true' };
    const { outcomes } = await run(w, fixture('spot-interruption.json'));
    expect(kinds(outcomes)).toEqual(['skipped/excluded']);
    expect(w.nodes.node('w1').availability).toBe('active');
    expect(w.nodes.node('w1').labels[LEAVING_LABEL]).toBeUndefined();
  });

  const inStandby = (w: ReturnType<typeof world>) => {
    const instance = w.asg.groups[0]?.instances.find((i) => i.id === W1);
    if (instance) instance.state = 'Standby';
  };

  for (const event of ['rebalance-recommendation.json', 'health-scheduled-change.json']) {
    it(`${event} for a node whose instance a person put in Standby: skipped (maintenance), not labelled or drained`, async () => {
      const w = setUp();
      inStandby(w);
      const { outcomes } = await run(w, fixture(event));
      expect(kinds(outcomes)).toEqual(['skipped/maintenance']);
      expect(outcomes[0]?.detail).toContain('Standby');
      expect(w.nodes.node('w1').availability).toBe('active');
      expect(w.nodes.node('w1').labels[LEAVING_LABEL]).toBeUndefined();
    });
  }

  for (const event of ['spot-interruption.json', 'state-change-shutting-down.json']) {
    it(`${event} for a node whose instance is in Standby: drained all the same (the instance goes anyway)`, async () => {
      const w = setUp();
      inStandby(w);
      const { outcomes } = await run(w, fixture(event));
      expect(kinds(outcomes)).toEqual(['acted/drained']);
      expect(w.nodes.node('w1').availability).toBe('drain');
    });
  }

  it('still drains a node labelled exclude=false', async () => {
    const w = setUp();
    w.nodes.run('w1', 2);
    w.nodes.node('w1').labels = { 'com.swarm-reflex.exclude': 'false' };
    terminating(w);
    const { outcomes } = await run(w, fixture('terminate-hook.json'));
    expect(kinds(outcomes)).toEqual(['acted/drained']);
  });
});
