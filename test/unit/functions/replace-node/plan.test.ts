import { describe, expect, it } from 'vitest';
import { DEMOTION_CLOCK_SKEW_MS, downSinceOf } from '../../../../functions/replace-node/down-since';
import { planGhostRemoval, planReplacement } from '../../../../functions/replace-node/plan';
import type { InstanceInfo } from '../../../../shared/domain/cloud';
import { REPLACING_NODE_TAG, REPLACING_SINCE_TAG } from '../../../../shared/domain/labels';
import type { ReplacementClaim } from '../../../../shared/domain/swarm-ledger';
import { FakeNodes } from '../../../support/fake-nodes';

// The hourly limit's slot (a replacement holds one claim for an hour), the since-time that
// its tags and its grace period keep, and the quorum-safe order of a ghost manager's removal.

const now = new Date('2026-11-24T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const HOUR = 3_600_000;

const swarm = new FakeNodes()
  .add('m1', { role: 'manager', state: 'down', updatedAt: ago(HOUR) })
  .add('w1', { state: 'down', updatedAt: ago(HOUR) });
const w1 = swarm.node('w1');
const m1 = swarm.node('m1');

const instance = (tags: Record<string, string> = {}): InstanceInfo => ({
  id: 'i-0000000000000a001',
  state: 'running',
  privateIp: w1.address,
  tags,
  launchTime: undefined,
});

const claimOf = (nodeId: string, claimedAt: Date): ReplacementClaim => ({
  nodeId,
  claimedAt,
  downSince: ago(2 * HOUR),
  role: 'worker',
});

const plan = (p: { own?: ReplacementClaim; instance?: InstanceInfo }) =>
  planReplacement({
    node: w1,
    instance: p.instance,
    own: p.own,
    role: 'worker',
    downSince: ago(HOUR),
    now,
  });

const kinds = (p: { steps: ReadonlyArray<{ kind: string }> }) => p.steps.map((s) => s.kind);

describe('planReplacement: one slot of the hourly limit per replacement', () => {
  it('claims a slot when it holds none', () => {
    expect(kinds(plan({}))).toEqual(['claim', 'remove']);
  });

  it('keeps its own claim of the last hour instead of taking a second slot', () => {
    expect(kinds(plan({ own: claimOf(w1.id, ago(HOUR - 1)) }))).toEqual(['remove']);
  });

  it('claims a slot over its own ghost claim (a retry that finds the instance alive after all)', () => {
    const ghost = { ...claimOf(w1.id, ago(60)), ghost: true };
    expect(kinds(plan({ own: ghost }))).toEqual(['claim', 'remove']);
  });

  it('claims again once its own claim is an hour old', () => {
    expect(kinds(plan({ own: claimOf(w1.id, ago(HOUR)) }))).toEqual(['claim', 'remove']);
  });
});

describe('planReplacement: the tags keep the time the replacement began', () => {
  const tagOf = (p: ReturnType<typeof plan>) => {
    const step = p.steps.find((s) => s.kind === 'tag');
    return step?.kind === 'tag' ? step.tags : undefined;
  };

  it('keeps the since-time of its own earlier tag', () => {
    const earlier = ago(300_000).toISOString();
    const tags = tagOf(
      plan({ instance: instance({ [REPLACING_NODE_TAG]: w1.id, [REPLACING_SINCE_TAG]: earlier }) }),
    );
    expect(tags?.[REPLACING_SINCE_TAG]).toBe(earlier);
  });

  it('starts anew over another node’s tag, or its own tag without a time', () => {
    const earlier = ago(300_000).toISOString();
    const others = tagOf(
      plan({ instance: instance({ [REPLACING_NODE_TAG]: 'nodeother', [REPLACING_SINCE_TAG]: earlier }) }),
    );
    expect(others).toMatchObject({ [REPLACING_NODE_TAG]: w1.id, [REPLACING_SINCE_TAG]: now.toISOString() });
    const untimed = tagOf(plan({ instance: instance({ [REPLACING_NODE_TAG]: w1.id }) }));
    expect(untimed?.[REPLACING_SINCE_TAG]).toBe(now.toISOString());
    expect(tagOf(plan({ instance: instance() }))?.[REPLACING_SINCE_TAG]).toBe(now.toISOString());
  });

  it('tells each step it takes as information', () => {
    const steps = plan({ instance: instance() }).steps;
    expect(kinds({ steps })).toEqual(['claim', 'tag', 'remove', 'terminate']);
    const told = steps.flatMap((s) => (s.kind === 'remove' || s.kind === 'terminate' ? [s.notice] : []));
    expect(told).toEqual([
      expect.objectContaining({ severity: 'info', title: `Removed dead node ${w1.hostname} from the swarm` }),
      expect.objectContaining({ severity: 'info', title: 'Terminated i-0000000000000a001' }),
    ]);
  });
});

describe('planGhostRemoval: a ghost manager is demoted first, its down-since recorded once', () => {
  it('records a ghost claim with its demotion when it holds none', () => {
    const p = planGhostRemoval({ node: m1, own: undefined, downSince: ago(HOUR), now, detail: 'gone' });
    expect(p.steps[0]).toEqual({
      kind: 'demote',
      claim: { nodeId: m1.id, claimedAt: now, downSince: ago(HOUR), role: 'manager', ghost: true },
    });
    expect(kinds(p)).toEqual(['demote', 'remove']);
  });

  it('demotes without a second claim when it holds one', () => {
    const own = { ...claimOf(m1.id, ago(60_000)), role: 'manager' as const, ghost: true };
    const p = planGhostRemoval({ node: m1, own, downSince: ago(HOUR), now, detail: 'gone' });
    expect(p.steps[0]).toEqual({ kind: 'demote' });
  });

  it('only removes a ghost worker', () => {
    expect(
      kinds(planGhostRemoval({ node: w1, own: undefined, downSince: ago(HOUR), now, detail: 'gone' })),
    ).toEqual(['remove']);
  });
});

describe('downSinceOf: our own demotion never restarts the grace period', () => {
  const claim = { nodeId: 'n', claimedAt: now, downSince: ago(HOUR), role: 'manager' as const };
  const demoted = (updatedAt: Date) => ({ ...swarm.node('w1'), role: 'worker' as const, updatedAt });

  it('counts a write up to the clock skew before the claim as our demotion', () => {
    expect(downSinceOf(demoted(ago(DEMOTION_CLOCK_SKEW_MS)), claim)).toEqual(ago(HOUR));
    expect(downSinceOf(demoted(ago(DEMOTION_CLOCK_SKEW_MS + 1)), claim)).toEqual(
      ago(DEMOTION_CLOCK_SKEW_MS + 1),
    );
  });

  it('never moves the down-since later than the node’s own UpdatedAt', () => {
    const updated = new Date(now.getTime() + 1_000);
    expect(downSinceOf(demoted(updated), { ...claim, downSince: new Date(now.getTime() + 5_000) })).toEqual(
      updated,
    );
  });
});
