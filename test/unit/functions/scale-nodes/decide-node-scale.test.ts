import { describe, expect, it } from 'vitest';
import {
  bounds,
  combineDeltas,
  decideNodeScale,
  scaleInCandidates,
} from '../../../../functions/scale-nodes/decide-node-scale';
import type { GroupState } from '../../../../shared/domain/cloud';
import { INSTANCE_ID_LABEL, SCALE_IN_CLAIM_LABEL, SCALE_IN_LABEL } from '../../../../shared/domain/labels';
import type { NodeState, TaskState } from '../../../../shared/domain/swarm';

// The guards of one worker-group decision, each pinned at its edge: the bounds (the group's,
// narrowed by NODES_MIN / NODES_MAX), the cooldown, NODE_SCALE_IN_MAX, which workers may be
// drained, and which drains a scale-up may cancel.

const now = new Date('2026-11-24T12:00:00.000Z');
const at = (ms: number) => new Date(now.getTime() + ms);

const settings = {
  nodeScaleCooldownSeconds: 300,
  nodeScaleStep: 1,
  nodeScaleInMax: 5,
  nodesMin: 0,
  nodesMax: 0,
  scaleInDrainTimeoutSeconds: 900,
};

function group(p: Partial<GroupState> = {}): GroupState {
  return {
    name: 'workers',
    min: 1,
    max: 10,
    desired: 4,
    instances: ['i-1', 'i-2', 'i-3', 'i-4'],
    lastActivityAt: undefined,
    ...p,
  };
}

/** A Ready, active worker running instance i-<n> of the group. */
function worker(n: number, p: Partial<NodeState> = {}): NodeState {
  return {
    id: `w${n}`,
    version: 1,
    hostname: `worker-${n}`,
    role: 'worker',
    availability: 'active',
    state: 'ready',
    address: `10.0.0.${n}`,
    updatedAt: at(-3_600_000),
    engineLabels: { [INSTANCE_ID_LABEL]: `i-${n}` },
    labels: {},
    createdAt: at(-86_400_000),
    manager: undefined,
    spec: {},
    ...p,
  };
}

const running = (nodeId: string, count: number): TaskState[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `${nodeId}-t${i}`,
    serviceId: 's',
    nodeId,
    state: 'running',
    desiredState: 'running',
  }));

const draining = (n: number, since: Date, labels: Record<string, string> = {}) =>
  worker(n, { availability: 'drain', labels: { [SCALE_IN_LABEL]: since.toISOString(), ...labels } });

describe('bounds: the group’s own, narrowed (never widened) by NODES_MIN / NODES_MAX', () => {
  it('narrows the group’s bounds by the settings', () => {
    expect(bounds(group({ min: 1, max: 10 }), { ...settings, nodesMin: 2, nodesMax: 6 })).toEqual({
      min: 2,
      max: 6,
    });
  });

  it('never widens them: a setting outside the group’s bounds leaves the group’s', () => {
    expect(bounds(group({ min: 3, max: 5 }), { ...settings, nodesMin: 1, nodesMax: 9 })).toEqual({
      min: 3,
      max: 5,
    });
  });

  it('reads NODES_MAX=0 as unset', () => {
    expect(bounds(group({ max: 5 }), { ...settings, nodesMax: 0 }).max).toBe(5);
  });

  it('refuses a scale-out past NODES_MAX even when the group allows more', () => {
    const d = decideNodeScale({
      group: group({ desired: 6, max: 10 }),
      nodes: [],
      tasks: [],
      delta: 1,
      now,
      settings: { ...settings, nodesMax: 6 },
    });
    expect(d).toMatchObject({ kind: 'skip', reason: 'at-max' });
  });
});

describe('combineDeltas: several alerts, one step', () => {
  it('takes the largest step, wherever it is in the request', () => {
    expect(combineDeltas([3, 1])).toBe(3);
    expect(combineDeltas([1, 3, 2])).toBe(3);
    expect(combineDeltas([-2, -1])).toBe(-2);
  });

  it('has no step for a request that asks both ways', () => {
    expect(combineDeltas([2, -1])).toBeUndefined();
  });
});

describe('scaleInCandidates: only Ready, active workers of this group that are not leaving', () => {
  const g = group({ instances: ['i-1', 'i-2', 'i-3', 'i-4', 'i-5', 'i-6'] });

  it('never offers a manager, a node that is not Ready, one a person drained or paused, one already leaving, or one outside the group', () => {
    const excluded = [
      worker(1, { role: 'manager' }),
      worker(2, { state: 'down' }),
      worker(3, { availability: 'drain' }),
      worker(4, { availability: 'pause' }),
      worker(5, { labels: { [SCALE_IN_LABEL]: now.toISOString() } }),
      worker(6, { engineLabels: { [INSTANCE_ID_LABEL]: 'i-other' } }),
      worker(7, { engineLabels: {} }),
    ];
    for (const n of excluded) {
      expect(scaleInCandidates([n], [], g), JSON.stringify(n)).toEqual([]);
    }
    expect(scaleInCandidates([...excluded, worker(1)], [], g).map((n) => n.id)).toEqual(['w1']);
  });

  it('offers the fewest tasks first, then the newest, then by hostname', () => {
    const nodes = [
      worker(1, { createdAt: at(-10_000) }),
      worker(2, { createdAt: at(-20_000) }),
      worker(3, { createdAt: at(-5_000) }),
      worker(4, { createdAt: at(-20_000) }),
    ];
    const tasks = [...running('w3', 2)];
    // Whatever order the swarm lists them in.
    for (const listed of [nodes, [...nodes].reverse()]) {
      expect(scaleInCandidates(listed, tasks, g).map((n) => n.id)).toEqual(['w1', 'w2', 'w4', 'w3']);
    }
  });
});

describe('decideNodeScale: the cooldown', () => {
  const decide = (p: { lastActivityAt?: Date; claimedAt?: Date }) =>
    decideNodeScale({
      group: group({ lastActivityAt: p.lastActivityAt }),
      nodes: [],
      tasks: [],
      delta: 1,
      now,
      claimedAt: p.claimedAt,
      settings,
    });

  it('ends exactly NODE_SCALE_COOLDOWN_SECONDS after the last activity or claim', () => {
    expect(decide({ lastActivityAt: at(-299_999) })).toMatchObject({ kind: 'skip', reason: 'cooldown' });
    expect(decide({ lastActivityAt: at(-300_000) })).toMatchObject({ kind: 'scale-out', from: 4, to: 5 });
    expect(decide({ claimedAt: at(-299_999) })).toMatchObject({ kind: 'skip', reason: 'cooldown' });
    expect(decide({ claimedAt: at(-300_000) })).toMatchObject({ kind: 'scale-out' });
  });

  it('runs from the later of the two, and says which it was', () => {
    expect(decide({ lastActivityAt: at(-400_000), claimedAt: at(-10_000) })).toMatchObject({
      reason: 'cooldown',
      detail: `another call decided to change the group at ${at(-10_000).toISOString()}; cooling down until ${at(290_000).toISOString()}`,
    });
    expect(decide({ lastActivityAt: at(-10_000), claimedAt: at(-400_000) })).toMatchObject({
      reason: 'cooldown',
      detail: `the group changed recently; cooling down until ${at(290_000).toISOString()}`,
    });
    expect(decide({ lastActivityAt: at(-10_000), claimedAt: at(-10_000) })).toMatchObject({
      detail: expect.stringMatching(/^the group changed recently/),
    });
  });
});

describe('decideNodeScale: a scale-in never goes below the minimum, nor past NODE_SCALE_IN_MAX', () => {
  const nodes = [worker(1), worker(2), worker(3), worker(4)];

  it('drains only down to the minimum however much is asked', () => {
    const d = decideNodeScale({
      group: group({ min: 2, desired: 4 }),
      nodes,
      tasks: [],
      delta: -5,
      now,
      settings,
    });
    expect(d).toMatchObject({ kind: 'scale-in', from: 4, to: 2 });
    expect(d.kind === 'scale-in' && d.drain).toHaveLength(2);
  });

  it('drains at most NODE_SCALE_IN_MAX workers', () => {
    const d = decideNodeScale({
      group: group({ min: 0, desired: 4 }),
      nodes,
      tasks: [],
      delta: -4,
      now,
      settings: { ...settings, nodeScaleInMax: 3 },
    });
    expect(d).toMatchObject({ kind: 'scale-in', from: 4, to: 1 });
  });
});

describe('decideNodeScale: a scale-up while workers drain cancels drains instead', () => {
  const began = at(-60_000);

  it('cancels at most as many drains as workers were asked for, the least drained first', () => {
    const nodes = [draining(1, began), draining(2, began), draining(3, began)];
    const tasks = [...running('w1', 1), ...running('w2', 3), ...running('w3', 2)];
    const d = decideNodeScale({ group: group(), nodes, tasks, delta: 2, now, settings });
    expect(d).toMatchObject({ kind: 'cancel-drain', from: 1, to: 3 });
    expect(d.kind === 'cancel-drain' && d.nodes.map((n) => n.id)).toEqual(['w2', 'w3']);
  });

  it('breaks a tie in tasks by the most recent drain first, whatever order the swarm lists them in', () => {
    const nodes = [draining(1, at(-60_000)), draining(2, at(-30_000)), draining(3, at(-90_000))];
    for (const listed of [nodes, [...nodes].reverse()]) {
      const d = decideNodeScale({ group: group(), nodes: listed, tasks: [], delta: 3, now, settings });
      expect(d.kind === 'cancel-drain' && d.nodes.map((n) => n.id)).toEqual(['w2', 'w1', 'w3']);
    }
  });

  it('never cancels a worker whose instance a caller is terminating right now', () => {
    const claimed = draining(1, began, { [SCALE_IN_CLAIM_LABEL]: at(-1_000).toISOString() });
    const d = decideNodeScale({
      group: group(),
      nodes: [claimed, draining(2, began)],
      tasks: [],
      delta: 2,
      now,
      settings,
    });
    expect(d.kind === 'cancel-drain' && d.nodes.map((n) => n.id)).toEqual(['w2']);
  });

  it('scales out when no drain can be cancelled', () => {
    const claimed = draining(1, began, { [SCALE_IN_CLAIM_LABEL]: at(-1_000).toISOString() });
    const d = decideNodeScale({ group: group(), nodes: [claimed], tasks: [], delta: 1, now, settings });
    expect(d).toMatchObject({ kind: 'scale-out' });
  });

  it('cancels with no claim on the swarm, or with the scale-in’s own claim (made before the drain began)', () => {
    const nodes = [draining(1, began)];
    for (const claimedAt of [undefined, at(-61_000), began]) {
      const d = decideNodeScale({ group: group(), nodes, tasks: [], delta: 1, now, claimedAt, settings });
      expect(d.kind, String(claimedAt)).toBe('cancel-drain');
    }
  });

  it('is cooled down by a claim made after the drain began (another scale-up cancelled already), until it expires', () => {
    const nodes = [draining(1, at(-90_000)), draining(2, began)];
    const claimedAt = at(-30_000);
    expect(decideNodeScale({ group: group(), nodes, tasks: [], delta: 1, now, claimedAt, settings })).toEqual(
      {
        kind: 'skip',
        reason: 'cooldown',
        detail: `another call decided to change the group at ${claimedAt.toISOString()}; cooling down until ${at(270_000).toISOString()}`,
      },
    );
    expect(
      decideNodeScale({ group: group(), nodes, tasks: [], delta: 1, now: at(270_000), claimedAt, settings })
        .kind,
    ).toBe('cancel-drain');
  });

  it('counts from the most recent drain: a claim between two drains does not cool the cancel down', () => {
    const nodes = [draining(1, at(-90_000)), draining(2, at(-10_000))];
    const d = decideNodeScale({
      group: group(),
      nodes,
      tasks: [],
      delta: 1,
      now,
      claimedAt: at(-30_000),
      settings,
    });
    expect(d.kind).toBe('cancel-drain');
  });
});
