import { describe, expect, it } from 'vitest';
import {
  decideLeaving,
  type LeavingView,
  type Wait,
} from '../../../../functions/node-lifecycle/decide-leaving';
import type { Decision, Step } from '../../../../functions/node-lifecycle/types';
import { LEAVING_CLAIM_LABEL, LEAVING_HEARTBEAT_LABEL } from '../../../../shared/domain/labels';
import type { Leaving } from '../../../../shared/domain/leaving';
import { FakeNodes } from '../../../support/fake-nodes';
import { GROUP, NOW } from './support';

// The guards of a leaving node, each pinned at its edge: the claim another caller holds, a
// manager demoted (never removed) while the others keep a majority, a removal that leaves a
// node that came back, the heartbeat and the maintenance window's boundaries.

const settings = { lifecycleDrainTimeoutSeconds: 600, scheduledDrainLeadSeconds: 3_600 };
const at = (s: number) => new Date(NOW.getTime() + s * 1_000);
const wait: Wait = {
  action: { group: GROUP, hook: 'swarm-reflex-drain', instance: 'i-0a1b2c3d4e5f60001' },
  heartbeatTimeoutSeconds: 600,
};

function view(p: {
  host?: string;
  role?: 'manager' | 'worker';
  state?: 'ready' | 'down';
  leaving: Leaving;
  tasks?: number;
  waits?: Wait[];
  labels?: Record<string, string>;
  availability?: 'active' | 'drain';
  now?: Date;
}): LeavingView {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('m2', { role: 'manager' })
    .add('m3', { role: 'manager' })
    .add('w1');
  const node = swarm.node(p.host ?? 'w1');
  node.state = p.state ?? 'ready';
  node.availability = p.availability ?? 'drain';
  node.labels = { ...node.labels, ...p.labels };
  return {
    node,
    leaving: p.leaving,
    nodes: swarm.nodes,
    tasks: p.tasks ?? 0,
    waits: p.waits ?? [],
    now: p.now ?? NOW,
  };
}
const stepsOf = (d: Decision): Step[] => ('plan' in d ? d.plan.steps : []);
const resultOf = (d: Decision) =>
  'plan' in d
    ? `${d.plan.result.kind}/${d.plan.result.reason}`
    : `${d.outcome.kind}/${'reason' in d.outcome ? d.outcome.reason : ''}`;
const severities = (d: Decision) =>
  stepsOf(d).flatMap((s) => (s.kind === 'notify' ? [s.notice.severity] : []));

describe('decideLeaving: who removes, and when', () => {
  const spot: Leaving = { cause: 'spot', since: at(-60) };

  it('leaves a node another caller claimed within two minutes to it, and takes over an older claim', () => {
    const fresh = { [LEAVING_CLAIM_LABEL]: at(-119).toISOString() };
    expect(resultOf(decideLeaving(view({ state: 'down', leaving: spot, labels: fresh }), settings))).toBe(
      'skipped/in-progress',
    );
    const old = { [LEAVING_CLAIM_LABEL]: at(-121).toISOString() };
    expect(resultOf(decideLeaving(view({ state: 'down', leaving: spot, labels: old }), settings))).toBe(
      'acted/removed',
    );
  });

  it('waits for a Ready Spot node to go down, saying so (no maintenance window is involved)', () => {
    const d = decideLeaving(view({ leaving: spot }), settings);
    expect(d).toMatchObject({
      outcome: {
        kind: 'waiting',
        reason: 'leaving',
        detail: expect.stringContaining('once Swarm marks it down'),
      },
    });
  });

  it('removes a down leaving worker without force (a node that came back stays), completing only our waits', () => {
    const removed = decideLeaving(view({ state: 'down', leaving: spot }), settings);
    expect(resultOf(removed)).toBe('acted/removed');
    expect(stepsOf(removed).filter((s) => s.kind === 'remove')).toEqual([
      expect.objectContaining({ kind: 'remove', force: false }),
    ]);
    expect(stepsOf(removed).some((s) => s.kind === 'complete')).toBe(false);

    const hook: Leaving = { cause: 'terminate-hook', since: at(-60), group: GROUP };
    const left = decideLeaving(view({ state: 'down', leaving: hook, waits: [wait] }), settings);
    expect(resultOf(left)).toBe('acted/left');
    expect(stepsOf(left).filter((s) => s.kind === 'complete')).toEqual([
      { kind: 'complete', action: wait.action, result: 'CONTINUE' },
    ]);
    expect('plan' in left && left.plan.detail).toContain('its hook completed');
  });

  it('demotes a down leaving manager while the others keep a majority, and never removes it', () => {
    const d = decideLeaving(view({ host: 'm3', role: 'manager', state: 'down', leaving: spot }), settings);
    expect(resultOf(d)).toBe('acted/demoted');
    expect(stepsOf(d).map((s) => s.kind)).toEqual(['demote', 'notify']);
  });

  it('tells people with a warning only when the drain timed out with tasks left', () => {
    const hook: Leaving = { cause: 'terminate-hook', since: at(-601), group: GROUP };
    expect(severities(decideLeaving(view({ leaving: hook, waits: [wait], tasks: 0 }), settings))).toEqual([
      'info',
    ]);
    expect(severities(decideLeaving(view({ leaving: hook, waits: [wait], tasks: 2 }), settings))).toEqual([
      'warning',
    ]);
  });
});

describe('decideLeaving: heartbeats at half the hook timeout, exactly', () => {
  const hook: Leaving = { cause: 'terminate-hook', since: NOW, group: GROUP };
  // A drain long enough for several heartbeats.
  const settings = { lifecycleDrainTimeoutSeconds: 3_600, scheduledDrainLeadSeconds: 3_600 };
  const heartbeats = (seconds: number) =>
    stepsOf(
      decideLeaving(view({ leaving: hook, waits: [wait], tasks: 1, now: at(seconds) }), settings),
    ).filter((s) => s.kind === 'heartbeat').length;

  it('sends none before 300 s of a 600 s timeout, one at 300 s', () => {
    expect(heartbeats(299.999)).toBe(0);
    expect(heartbeats(300)).toBe(1);
  });

  it('counts from the last heartbeat noted on the node', () => {
    const labels = { [LEAVING_HEARTBEAT_LABEL]: at(300).toISOString() };
    const d = (s: number) =>
      stepsOf(
        decideLeaving(view({ leaving: hook, waits: [wait], tasks: 1, labels, now: at(s) }), settings),
      ).filter((x) => x.kind === 'heartbeat').length;
    expect(d(599)).toBe(0);
    expect(d(600)).toBe(1);
  });
});

describe('decideLeaving: a maintenance window, at its edges', () => {
  const window = { start: at(7_200), end: at(10_800) };
  const scheduled: Leaving = { cause: 'scheduled', since: NOW, window };

  it('drains exactly SCHEDULED_DRAIN_LEAD_SECONDS before the window starts, not a moment earlier', () => {
    expect(
      resultOf(decideLeaving(view({ leaving: scheduled, availability: 'active', now: at(3_599) }), settings)),
    ).toBe('waiting/before-window');
    expect(
      resultOf(decideLeaving(view({ leaving: scheduled, availability: 'active', now: at(3_600) }), settings)),
    ).toBe('acted/drained');
  });

  it('hands a Ready node back once the window has ended, and not while it lasts or while it is down', () => {
    expect(resultOf(decideLeaving(view({ leaving: scheduled, now: at(10_799) }), settings))).not.toBe(
      'acted/handed-back',
    );
    expect(resultOf(decideLeaving(view({ leaving: scheduled, now: at(10_800) }), settings))).toBe(
      'acted/handed-back',
    );
    expect(
      resultOf(decideLeaving(view({ leaving: scheduled, state: 'down', now: at(10_800) }), settings)),
    ).not.toBe('acted/handed-back');
  });
});
