import { GetParametersCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { fromAddresses, managerEndpoints } from '../../../shared/adapters/manager-endpoints';
import { createParameterStore } from '../../../shared/adapters/ssm';
import { asFunction } from '../../support/aws-ledger';
import { fakeSsm } from '../../support/fake-ssm';

const PREFIX = '/swarm-reflex/unit';
const NAME = `${PREFIX}/swarm/manager-addresses`;
let ssm: ReturnType<typeof fakeSsm> | undefined;
afterEach(() => {
  ssm?.mock.restore();
  ssm = undefined;
});

function endpoints(now: () => number = () => 0) {
  ssm = fakeSsm();
  const read = managerEndpoints({
    host: 'tcp://swarm-manager.internal:2376',
    managers: ['unix:///run/m2.sock'],
    port: 2376,
    settingsPrefix: PREFIX,
    parameters: createParameterStore(ssm.client),
    ttlMs: 300_000,
    now,
  });
  return { ssm, read };
}

describe('the manager pool endpoints', () => {
  // Every function that reaches the swarm reads this one String parameter through the pool
  // (recorded for each, for the least-privilege proof; notify never does).
  for (const fn of [
    'scale-service',
    'scale-nodes',
    'replace-node',
    'sync-join-tokens',
    'health-sweep',
    'node-lifecycle',
  ]) {
    it(`tries DOCKER_HOST, SWARM_MANAGERS, then the managers kept in SSM on DOCKER_PORT (${fn})`, async () => {
      const { ssm, read } = endpoints();
      ssm.store.set(NAME, { value: '10.0.1.5:2377,10.0.2.7:2377', type: 'String', modified: new Date() });
      expect(await asFunction(fn, read)).toEqual([
        'tcp://swarm-manager.internal:2376',
        'unix:///run/m2.sock',
        'tcp://10.0.1.5:2376',
        'tcp://10.0.2.7:2376',
      ]);
    });
  }

  it('reads SSM again only after the TTL, and keeps serving the last list when SSM fails', async () => {
    let t = 0;
    const { ssm, read } = endpoints(() => t);
    ssm.store.set(NAME, { value: '10.0.1.5:2377', type: 'String', modified: new Date() });
    await asFunction('scale-service', read);
    ssm.store.set(NAME, { value: '10.0.9.9:2377', type: 'String', modified: new Date() });
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.1.5:2376');
    t = 300_000;
    ssm.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.1.5:2376');
    ssm.hooks.fail = undefined;
    t = 600_000;
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.9.9:2376');
  });

  it('tries SSM again 30 s after a failed read, not a whole TTL later, serving the last list meanwhile', async () => {
    let t = 0;
    const { ssm, read } = endpoints(() => t);
    ssm.store.set(NAME, { value: '10.0.1.5:2377', type: 'String', modified: new Date() });
    await asFunction('scale-service', read);
    t = 300_000;
    ssm.hooks.fail = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.1.5:2376');
    ssm.hooks.fail = undefined;
    ssm.store.set(NAME, { value: '10.0.9.9:2377', type: 'String', modified: new Date() });
    t = 329_999;
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.1.5:2376');
    expect(ssm.mock.commandCalls(GetParametersCommand)).toHaveLength(2);
    t = 330_000;
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.9.9:2376');
    // A good read is kept for the whole TTL again.
    ssm.store.set(NAME, { value: '10.0.7.7:2377', type: 'String', modified: new Date() });
    t = 629_999;
    expect(await asFunction('scale-service', read)).toContain('tcp://10.0.9.9:2376');
  });

  it('turns only well-formed hosts into endpoints (the parameter is data, not trusted)', () => {
    expect(
      fromAddresses('10.0.1.5:2377, [fd00::1]:2377,bad host:1,/etc/passwd:2,,host.internal:2377', 2376),
    ).toEqual(['tcp://10.0.1.5:2376', 'tcp://[fd00::1]:2376', 'tcp://host.internal:2376']);
  });
});
