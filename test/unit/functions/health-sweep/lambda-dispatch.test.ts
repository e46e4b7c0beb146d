import { InvokeCommand } from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { sweep } from '../../../../functions/health-sweep/health-sweep';
import { createLambdaDispatcher, reportOnlyDispatcher } from '../../../../shared/adapters/lambda';
import { createLogger } from '../../../../shared/adapters/logger';
import { DependencyUnavailableError } from '../../../../shared/domain/errors';
import { fakeLambda, throttled } from '../../../support/fake-lambda';
import { FakeNodes, recordingNotifier } from '../../../support/fake-nodes';
import { FakeServices } from '../../../support/fake-services';

let lambda: ReturnType<typeof fakeLambda>;
afterEach(() => lambda?.mock.restore());

const functions = {
  replaceNode: 'swarm-reflex-prod-replace-node',
  syncJoinTokens: 'swarm-reflex-prod-sync-join-tokens',
};

describe('Lambda dispatch (mocked at the SDK boundary)', () => {
  it('queues replace-node asynchronously (InvocationType Event) with the node in the payload', async () => {
    lambda = fakeLambda();
    const result = await createLambdaDispatcher(lambda.client, functions).replaceNode(
      'abcdefghij0123456789klmno',
    );
    expect(result).toEqual({ dispatched: true, to: functions.replaceNode });
    expect(lambda.mock.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(lambda.invocations).toEqual([
      { functionName: functions.replaceNode, type: 'Event', payload: { node: 'abcdefghij0123456789klmno' } },
    ]);
  });

  it('queues replace-node for an instance whose replacement stopped, with the instance in the payload', async () => {
    lambda = fakeLambda();
    await createLambdaDispatcher(lambda.client, functions).replaceInstance('i-0000000000000f001');
    expect(lambda.invocations).toEqual([
      { functionName: functions.replaceNode, type: 'Event', payload: { instance: 'i-0000000000000f001' } },
    ]);
  });

  it('queues sync-join-tokens asynchronously with an empty event', async () => {
    lambda = fakeLambda();
    await createLambdaDispatcher(lambda.client, functions).syncJoinTokens();
    expect(lambda.invocations).toEqual([
      { functionName: functions.syncJoinTokens, type: 'Event', payload: {} },
    ]);
  });

  it('turns throttling or an unexpected status into a retryable AWS error', async () => {
    lambda = fakeLambda();
    const d = createLambdaDispatcher(lambda.client, functions);
    lambda.hooks.fail = throttled();
    await expect(d.replaceNode('n1')).rejects.toThrow(DependencyUnavailableError);
    await expect(d.replaceNode('n1')).rejects.toThrow(/TooManyRequestsException/);
    lambda.hooks.fail = undefined;
    lambda.hooks.status = 200;
    await expect(d.syncJoinTokens()).rejects.toThrow(/answered 200, not 202/);
  });

  it('invokes nothing for a function left unset, and the report-only dispatcher never invokes', async () => {
    lambda = fakeLambda();
    const partial = createLambdaDispatcher(lambda.client, {
      replaceNode: functions.replaceNode,
      syncJoinTokens: undefined,
    });
    expect(await partial.syncJoinTokens()).toEqual({
      dispatched: false,
      detail: 'nothing was dispatched: SYNC_JOIN_TOKENS_FUNCTION is not set',
    });
    expect(await reportOnlyDispatcher('npm run sweep calls no AWS').replaceNode('n1')).toEqual({
      dispatched: false,
      detail: 'nothing was dispatched: npm run sweep calls no AWS',
    });
    expect(lambda.mock.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});

describe('health sweep with Lambda throttled', () => {
  it('reports each failed dispatch as a finding (and a warning), tries the others, and reports everything else', async () => {
    lambda = fakeLambda();
    lambda.hooks.fail = throttled();
    const T = new Date('2026-11-24T12:00:00Z');
    const nodes = new FakeNodes()
      .add('m1', { role: 'manager' })
      .add('m2', { role: 'manager' })
      .add('m3', { role: 'manager', state: 'down', updatedAt: new Date(T.getTime() - 30_000) })
      .add('w1', { state: 'down', updatedAt: new Date(T.getTime() - 310_000) })
      .add('w2', { state: 'down', updatedAt: new Date(T.getTime() - 320_000) });
    const services = new FakeServices(() => T).add('api', {
      replicas: 2,
      updatedAt: new Date(T.getTime() - 301_000),
    });
    const notifier = recordingNotifier();
    const result = await sweep(
      {
        nodes,
        services,
        tasks: nodes,
        group: undefined,
        dispatcher: createLambdaDispatcher(lambda.client, functions),
        joinParameters: { notChecked: 'unit test' },
        notifier,
        clock: { now: () => T },
        settings: { nodeDownGraceSeconds: 300, sweepIntervalSeconds: 60, underReplicatedSeconds: 300 },
      },
      { at: T, dryRun: false, log: createLogger({ level: 'error', sink: () => {} }) },
    );
    expect(result.outcomes.map((f) => `${f.kind} ${f.subject} ${f.action}`)).toEqual([
      'quorum managers notified',
      'node-down m3 watching',
      'node-down w1 dispatch-failed',
      'node-down w2 dispatch-failed',
      'under-replicated api notified',
      'join-tokens manager-addresses not-checked',
    ]);
    expect(result.outcomes.find((f) => f.subject === 'w1')).toMatchObject({
      severity: 'warning',
      detail: expect.stringContaining('TooManyRequestsException'),
    });
    expect(lambda.mock.commandCalls(InvokeCommand)).toHaveLength(2);
    expect(notifier.notices.map((n) => n.severity)).toEqual(['critical', 'warning', 'warning', 'warning']);
  });
});
