import { describe, expect, it } from 'vitest';
import { hasQuorum, managerLossRefusal } from '../../../shared/domain/quorum';
import { FakeNodes } from '../../support/fake-nodes';

// Raft's majority rule, and the one question every function that removes a manager asks.

describe('hasQuorum: more than half of the managers', () => {
  it('holds with a strict majority only', () => {
    expect(hasQuorum(2, 3)).toBe(true);
    expect(hasQuorum(3, 4)).toBe(true);
    expect(hasQuorum(2, 4)).toBe(false);
    expect(hasQuorum(1, 2)).toBe(false);
    expect(hasQuorum(1, 1)).toBe(true);
    expect(hasQuorum(0, 0)).toBe(false);
  });
});

describe('managerLossRefusal: a manager may go only while the others keep a majority', () => {
  const three = () =>
    new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager' });

  it('lets a manager go when the other managers keep a majority of themselves', () => {
    const swarm = three().add('w1');
    expect(managerLossRefusal(swarm.nodes, swarm.node('m3'))).toBeUndefined();
  });

  it('counts managers only, and never the leaving one', () => {
    const swarm = three().add('w1').add('w2').add('w3');
    swarm.node('m2').manager = { leader: false, reachability: 'unreachable', addr: '' };
    // Without m3: 1 of 2 reachable, whatever the workers and m3 itself.
    expect(managerLossRefusal(swarm.nodes, swarm.node('m3'))).toBe(
      'demoting m3 would leave 1 reachable of 2 managers, no majority. Restore or add a manager first.',
    );
  });

  it('counts a manager the node list gives no manager status as unreachable', () => {
    const swarm = three().add('m4', { role: 'manager' });
    swarm.node('m2').manager = undefined;
    expect(managerLossRefusal(swarm.nodes, swarm.node('m4'))).toBeUndefined();
    swarm.node('m1').manager = undefined;
    expect(managerLossRefusal(swarm.nodes, swarm.node('m4'))).toMatch(/would leave 1 reachable of 3/);
  });

  it('never lets the only manager go', () => {
    const swarm = new FakeNodes().add('m1', { role: 'manager' }).add('w1');
    expect(managerLossRefusal(swarm.nodes, swarm.node('m1'))).toMatch(/only manager/);
  });
});
