import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../../../functions/node-lifecycle/apply';
import type { Plan } from '../../../../functions/node-lifecycle/types';
import { VersionConflictError } from '../../../../shared/domain/errors';
import { LEAVING_HEARTBEAT_LABEL } from '../../../../shared/domain/labels';
import { memoryLogger } from '../../../support/real-deps';
import { GROUP, W1, world } from './support';

// What a plan's outcome says when its changes find their work done, or lose a race.

const log = memoryLogger().logger;

describe('applyPlan: done already, or raced', () => {
  it('says already-done, and tells nobody, when every change found its work done', async () => {
    const w = world();
    try {
      const plan: Plan = {
        ref: { subject: W1, instance: W1 },
        result: { kind: 'acted', reason: 'completed' },
        detail: 'completed',
        steps: [
          {
            kind: 'complete',
            action: { group: GROUP, hook: 'swarm-reflex-drain', instance: W1 },
            result: 'CONTINUE',
          },
          { kind: 'notify', notice: { severity: 'info', title: 'done', text: 'done.' } },
        ],
      };
      expect(await applyPlan(w.deps, plan, log)).toMatchObject({ kind: 'skipped', reason: 'already-done' });
      expect(w.notifier.notices).toEqual([]);
    } finally {
      w.restore();
    }
  });

  it('keeps the plan’s outcome when its only change lost a race to another writer', async () => {
    const w = world();
    try {
      const node = w.nodes.node('m3');
      w.deps.swarm.updateNode = async () => {
        throw new VersionConflictError('update out of sequence');
      };
      const plan: Plan = {
        ref: { subject: 'm3', node: node.id, hostname: 'm3' },
        result: { kind: 'waiting', reason: 'quorum-at-risk' },
        detail: 'held',
        steps: [
          { kind: 'notify', notice: { severity: 'critical', title: 'held', text: 'held.' } },
          { kind: 'update', purpose: 'note', node, labels: { [LEAVING_HEARTBEAT_LABEL]: 'x' }, says: 'note' },
        ],
      };
      expect(await applyPlan(w.deps, plan, log)).toMatchObject({ kind: 'waiting', reason: 'quorum-at-risk' });
      expect(w.notifier.notices).toHaveLength(1);
    } finally {
      w.restore();
    }
  });
});
