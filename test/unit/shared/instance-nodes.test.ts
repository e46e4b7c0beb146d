import { describe, expect, it } from 'vitest';
import { backs, nodeOnInstance, nodesBackedBy } from '../../../shared/domain/instance-nodes';
import { FakeNodes } from '../../support/fake-nodes';

// Which nodes run on an instance decides which node a termination takes with it: by the
// instance label the bootstrap writes, or by address; an address EC2 does not report matches nothing.

const instance = { id: 'i-0000000000000a001', privateIp: '10.0.0.11' };

describe('backs: a node runs on an instance by its label or its address', () => {
  const swarm = new FakeNodes()
    .add('labelled', { address: '10.0.0.50', engineLabels: { 'aws.instance-id': instance.id } })
    .add('addressed', { address: '10.0.0.11' })
    .add('other', { address: '10.0.0.12', engineLabels: { 'aws.instance-id': 'i-0000000000000a002' } })
    .add('blank', { address: '' });

  it('matches by the instance label, whatever the address', () => {
    expect(backs(instance, swarm.node('labelled'))).toBe(true);
  });

  it('matches by the address, whatever the label', () => {
    expect(backs(instance, swarm.node('addressed'))).toBe(true);
    expect(backs({ ...instance, privateIp: '10.0.0.12' }, swarm.node('other'))).toBe(true);
  });

  it('never matches by an address the instance does not have', () => {
    expect(backs({ ...instance, privateIp: '' }, swarm.node('blank'))).toBe(false);
    expect(backs({ ...instance, privateIp: undefined }, swarm.node('blank'))).toBe(false);
    expect(backs(instance, swarm.node('other'))).toBe(false);
  });

  it('lists every node the instance backs but the one named', () => {
    expect(nodesBackedBy(instance, swarm.nodes).map((n) => n.hostname)).toEqual(['labelled', 'addressed']);
    expect(nodesBackedBy(instance, swarm.nodes, swarm.node('labelled').id).map((n) => n.hostname)).toEqual([
      'addressed',
    ]);
  });
});

describe('nodeOnInstance: one node, none, or several to choose between', () => {
  it('names the one node, says when there is none, and never picks one of several', () => {
    const one = new FakeNodes().add('w1', { address: '10.0.0.11' }).add('w2', { address: '10.0.0.12' });
    expect(nodeOnInstance(instance, one.nodes)).toEqual({ node: one.node('w1') });
    expect(nodeOnInstance({ ...instance, privateIp: '10.0.0.99' }, one.nodes)).toEqual({ none: true });
    const two = new FakeNodes()
      .add('old', { address: '10.0.0.11', state: 'down' })
      .add('new', { address: '10.0.0.11' });
    expect(nodeOnInstance(instance, two.nodes)).toEqual({ ambiguous: [two.node('old'), two.node('new')] });
  });
});
