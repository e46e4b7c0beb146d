import { afterEach, describe, expect, it } from 'vitest';
import { type ScaleNodesDeps, scaleNodes } from '../../../../functions/scale-nodes/scale-nodes';
import { createWorkerGroup } from '../../../../shared/adapters/autoscaling';
import { createLogger } from '../../../../shared/adapters/logger';
import type { AlertmanagerWebhook } from '../../../../shared/domain/alerts';
import { SCALE_IN_LABEL } from '../../../../shared/domain/labels';
import { fakeAutoScaling } from '../../../support/fake-autoscaling';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { fastRetry } from '../../../support/fake-swarm';

const log = createLogger({ level: 'error', sink: () => {} });
let asg: ReturnType<typeof fakeAutoScaling> | undefined;
afterEach(() => asg?.mock.restore());

/** 1 manager + 2 workers of the group: w1 busy, w2 idle (the one a scale-in picks first). */
function setup(options: { standby?: string[] } = {}) {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager' })
    .add('w1', { engineLabels: { 'aws.instance-id': 'i-00000000000000001' } })
    .add('w2', { engineLabels: { 'aws.instance-id': 'i-00000000000000002' } })
    .run('w1', 3);
  asg = fakeAutoScaling(
    {
      name: 'workers',
      min: 0,
      max: 6,
      desired: 2,
      instances: ['i-00000000000000001', 'i-00000000000000002'],
      standby: options.standby,
    },
    () => new Date('2026-11-24T12:00:00Z'),
  );
  const deps: ScaleNodesDeps = {
    swarm,
    tasks: swarm,
    group: createWorkerGroup(asg.client, 'workers'),
    notifier: recordingNotifier(),
    clock: { now: () => new Date('2026-11-24T12:00:00Z') },
    settings: {
      nodeScaleCooldownSeconds: 300,
      nodeScaleStep: 1,
      nodeScaleInMax: 1,
      nodesMin: 0,
      nodesMax: 0,
      scaleInDrainTimeoutSeconds: 900,
      updateAttempts: 5,
    },
    ...fastRetry,
  };
  return { swarm, deps };
}

const webhook = (scale: string): AlertmanagerWebhook => ({
  version: '4',
  groupKey: 'g',
  status: 'firing',
  receiver: 'scale-nodes',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  externalURL: '',
  alerts: [{ status: 'firing', labels: { type: 'node', scale }, annotations: {}, fingerprint: 'n0' }],
});

const scaleIn = (deps: ScaleNodesDeps) =>
  scaleNodes(deps, { webhook: webhook('down'), override: undefined, dryRun: false, log });

describe('scale-nodes never scales in a node a person opted out', () => {
  for (const value of ['true', 'TRUE', 'yes', '']) {
    it(`passes over a worker labelled com.swarm-reflex.exclude=${JSON.stringify(value)} and drains the next one`, async () => {
      const { swarm, deps } = setup();
      swarm.node('w2').labels = { 'com.swarm-reflex.exclude': value };
      const result = await scaleIn(deps);
      expect(result.outcomes[0]).toMatchObject({ kind: 'draining' });
      expect(swarm.node('w2')).toMatchObject({ availability: 'active' });
      expect(swarm.node('w2').labels[SCALE_IN_LABEL]).toBeUndefined();
      expect(swarm.node('w1').labels[SCALE_IN_LABEL]).toBeDefined();
    });
  }

  it('counts a worker labelled exclude=false as any other', async () => {
    const { swarm, deps } = setup();
    swarm.node('w2').labels = { 'com.swarm-reflex.exclude': 'false' };
    await scaleIn(deps);
    // The idle w2 was drained, and (empty) left at once.
    expect(swarm.removed).toEqual(['w2']);
    expect(asg?.terminated).toEqual(['i-00000000000000002']);
  });

  it('passes over a worker whose instance is in Auto Scaling Standby', async () => {
    const { swarm, deps } = setup({ standby: ['i-00000000000000002'] });
    await scaleIn(deps);
    expect(swarm.node('w2')).toMatchObject({ availability: 'active' });
    expect(swarm.node('w2').labels[SCALE_IN_LABEL]).toBeUndefined();
    expect(swarm.node('w1').labels[SCALE_IN_LABEL]).toBeDefined();
  });

  it('has no candidate when every worker is opted out, and says why', async () => {
    const { swarm, deps } = setup({ standby: ['i-00000000000000001'] });
    swarm.node('w2').labels = { 'com.swarm-reflex.exclude': 'true' };
    const result = await scaleIn(deps);
    expect(result.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'no-candidate' });
    expect(JSON.stringify(result.outcomes[0])).toMatch(/w1 \(maintenance\).*w2 \(excluded\)/);
    expect(swarm.nodes.every((n) => n.availability === 'active')).toBe(true);
    expect(asg?.terminated).toEqual([]);
  });

  it('never drains a worker a person drained or paused (it is not ours to finish)', async () => {
    const { swarm, deps } = setup();
    swarm.node('w2').availability = 'pause';
    swarm.node('w1').availability = 'drain';
    const result = await scaleIn(deps);
    expect(result.outcomes[0]).toMatchObject({ kind: 'skipped', reason: 'no-candidate' });
    expect(swarm.node('w1').labels[SCALE_IN_LABEL]).toBeUndefined();
    expect(asg?.terminated).toEqual([]);
  });
});
