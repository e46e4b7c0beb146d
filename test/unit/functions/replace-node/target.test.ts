import { describe, expect, it } from 'vitest';
import {
  describeTarget,
  parseTarget,
  resolveTarget,
  type Target,
} from '../../../../functions/replace-node/target';
import { FakeNodes } from '../../../support/fake-nodes';

// Which node an alert names decides which node leaves the swarm and which instance is
// terminated: the label must be a well-formed name, and the match must be exact.

const byInstance = (instance: string) => parseTarget({ instance });
const byNode = (node: string) => parseTarget({ node });

describe('parseTarget: a node label is a hostname or a node ID, nothing else', () => {
  it('accepts hostnames of one or several labels, each 1 to 63 letters, digits and inner hyphens', () => {
    for (const name of [
      'a',
      'w1',
      'web-01',
      'a.b',
      'ip-10-0-1-5.eu-west-1.compute.internal',
      `${'a'.repeat(63)}.${'b'.repeat(63)}`,
      'x1.y-2.z',
    ]) {
      expect(byNode(name), name).toEqual({ by: 'node', value: name });
    }
  });

  it('refuses a name that starts or ends with a hyphen or dot, has an empty or too long label, or other characters', () => {
    for (const name of [
      '-web',
      'web-',
      '.web',
      'web.',
      'a..b',
      'a.-b',
      'a.b-',
      'a_b',
      'web/01',
      'a b',
      'a'.repeat(64),
      `b.${'a'.repeat(64)}`,
    ]) {
      expect(byNode(name), name).toMatchObject({ invalid: expect.any(String) });
    }
  });

  it('refuses a name longer than 253 characters, even of valid labels', () => {
    const long = Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.'); // 255
    expect(byNode(long)).toMatchObject({ invalid: expect.any(String) });
    expect(byNode(long.slice(2))).toEqual({ by: 'node', value: long.slice(2) }); // 253
  });

  it('reads an empty node label as none, and falls back to the instance label', () => {
    expect(parseTarget({ node: '', instance: 'i-0123abcd' })).toEqual({
      by: 'instance-id',
      value: 'i-0123abcd',
    });
  });
});

describe('parseTarget: an instance label is an EC2 instance ID, or host[:port] as node-exporter reports it', () => {
  it('reads i- and 8 to 17 lowercase hex digits as an instance ID', () => {
    for (const id of ['i-0123abcd', 'i-0123456789abcdef0']) {
      expect(byInstance(id), id).toEqual({ by: 'instance-id', value: id });
    }
  });

  it('reads anything else shaped like a host as an address, never as an instance ID', () => {
    for (const host of [
      'i-0123abc',
      'i-0123456789abcdef01',
      'i-0123ABCD',
      'xi-0123abcd',
      'i-0123abcd-x',
      'i-0123abcg',
    ]) {
      expect(byInstance(host), host).toEqual({ by: 'address', value: host });
    }
  });

  it('strips a trailing :port and nothing else', () => {
    expect(byInstance('10.0.1.5:9100')).toEqual({ by: 'address', value: '10.0.1.5' });
    expect(byInstance('ip-10-0-1-5.internal:9100')).toEqual({ by: 'address', value: 'ip-10-0-1-5.internal' });
    expect(byInstance('host:80x')).toMatchObject({ invalid: expect.any(String) });
    expect(byInstance('host:123456')).toMatchObject({ invalid: expect.any(String) });
  });

  it('has no target for an empty instance label, and refuses what is no host', () => {
    expect(parseTarget({ instance: '' })).toBeUndefined();
    expect(parseTarget({ node: '', instance: '' })).toBeUndefined();
    for (const bad of ['../x', 'a b:9100', '10.0.1.5:']) {
      expect(byInstance(bad), bad).toMatchObject({ invalid: expect.any(String) });
    }
  });
});

describe('describeTarget', () => {
  it('names what the alert named', () => {
    expect(describeTarget({ by: 'node', value: 'w1' })).toBe('w1');
    expect(describeTarget({ by: 'instance-id', value: 'i-0123abcd' })).toBe('instance i-0123abcd');
    expect(describeTarget({ by: 'address', value: '10.0.0.5' })).toBe('address 10.0.0.5');
  });
});

describe('resolveTarget: exactly the node the target names', () => {
  const swarm = new FakeNodes()
    .add('m1', { role: 'manager', address: '10.0.0.1' })
    .add('w1', { address: '10.0.0.11', engineLabels: { 'aws.instance-id': 'i-0000000000000a001' } })
    .add('w2', { address: '10.0.0.12', engineLabels: { 'aws.instance-id': 'i-0000000000000a002' } })
    .add('w3', { address: '10.0.0.13' });
  const nodes = swarm.nodes;
  const hostOf = (t: Target) => {
    const n = resolveTarget(nodes, t);
    return typeof n === 'object' ? n.hostname : n;
  };

  it('finds a node by the instance ID its engine label names, and by nothing else', () => {
    expect(hostOf({ by: 'instance-id', value: 'i-0000000000000a002' })).toBe('w2');
    expect(hostOf({ by: 'instance-id', value: 'i-0000000000000a009' })).toBeUndefined();
    expect(hostOf({ by: 'instance-id', value: '10.0.0.12' })).toBeUndefined();
  });

  it('finds a node by its ID or its hostname', () => {
    expect(hostOf({ by: 'node', value: swarm.node('w3').id })).toBe('w3');
    expect(hostOf({ by: 'node', value: 'w3' })).toBe('w3');
    expect(hostOf({ by: 'node', value: '10.0.0.13' })).toBeUndefined();
  });

  it('finds a node by its address or its hostname (node-exporter reports either)', () => {
    expect(hostOf({ by: 'address', value: '10.0.0.11' })).toBe('w1');
    expect(hostOf({ by: 'address', value: 'w1' })).toBe('w1');
    expect(hostOf({ by: 'address', value: '10.0.0.99' })).toBeUndefined();
    expect(hostOf({ by: 'address', value: swarm.node('w1').id })).toBeUndefined();
  });

  it('of several matches takes the down one when it is the only one down, else refuses to choose', () => {
    const twins = new FakeNodes()
      .add('old', { state: 'down', address: '10.0.0.20' })
      .add('new', { address: '10.0.0.20' });
    expect(resolveTarget(twins.nodes, { by: 'address', value: '10.0.0.20' })).toMatchObject({
      hostname: 'old',
    });
    const bothUp = new FakeNodes().add('a', { address: '10.0.0.20' }).add('b', { address: '10.0.0.20' });
    expect(resolveTarget(bothUp.nodes, { by: 'address', value: '10.0.0.20' })).toBe('ambiguous');
    const bothDown = new FakeNodes()
      .add('a', { state: 'down', address: '10.0.0.20' })
      .add('b', { state: 'down', address: '10.0.0.20' });
    expect(resolveTarget(bothDown.nodes, { by: 'address', value: '10.0.0.20' })).toBe('ambiguous');
  });

  it('takes a single match whatever its state', () => {
    expect(hostOf({ by: 'node', value: 'w1' })).toBe('w1');
    expect(resolveTarget(nodes, { by: 'node', value: 'm1' })).toMatchObject({ state: 'ready' });
  });
});
