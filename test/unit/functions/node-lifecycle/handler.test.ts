import { afterEach, describe, expect, it } from 'vitest';

process.env.CLOUD = 'aws';
process.env.CLUSTER_TAG = 'swarm-reflex:cluster=unit';
const { makeHandler } = await import('../../../../functions/node-lifecycle/handler');
const { memoryLogger } = await import('../../../support/real-deps');
const { fixture, world } = await import('./support');

let current: ReturnType<typeof world> | undefined;
afterEach(() => current?.restore());

function handlerWith(dryRun: boolean) {
  current = world();
  const { lines, logger } = memoryLogger();
  return { w: current, lines, handler: makeHandler({ ...current.deps, logger, dryRun }) };
}

describe('node-lifecycle handler', () => {
  it('answers an EventBridge event with its outcomes, one audit line each', async () => {
    const { w, handler, lines } = handlerWith(false);
    const result = await handler(fixture('spot-interruption.json'));
    expect(result.outcomes).toEqual([
      expect.objectContaining({ kind: 'acted', reason: 'drained', hostname: 'w1' }),
    ]);
    expect(w.nodes.node('w1').availability).toBe('drain');
    expect(lines.filter((l) => l.audit === true)).toHaveLength(1);
  });

  it('fails the invocation for a hostile event, before anything is read', async () => {
    const { w, handler } = handlerWith(false);
    await expect(
      handler({
        source: 'aws.ec2',
        'detail-type': 'EC2 Spot Instance Interruption Warning',
        detail: { 'instance-id': 7 },
      }),
    ).rejects.toThrow(/not a valid/);
    expect(w.ec2.mock.calls()).toHaveLength(0);
    expect(w.asg.mock.calls()).toHaveLength(0);
    expect(w.nodes.node('w1').version).toBe(5);
  });

  it('only plans with DRY_RUN, whatever the event', async () => {
    const { w, handler } = handlerWith(true);
    const result = await handler(fixture('spot-interruption.json'));
    expect(result).toMatchObject({ dryRun: true, outcomes: [{ kind: 'skipped', reason: 'dry-run' }] });
    expect(w.nodes.node('w1').availability).toBe('active');
  });

  it('runs the reconcile pass on the schedule event', async () => {
    const { handler } = handlerWith(false);
    expect(await handler(fixture('schedule.json'))).toMatchObject({ dryRun: false, outcomes: [] });
  });
});
