import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../../shared/config/settings';

describe('settings', () => {
  it('parses the defaults and freezes the result', () => {
    const s = parseSettings({ WEBHOOK_TOKENS: 'a-token-of-16-chars, another-token-here' });
    expect(s.webhookTokens).toEqual(['a-token-of-16-chars', 'another-token-here']);
    expect(s.docker.host).toBe('unix:///var/run/docker.sock');
    expect(s.scaleCooldownSeconds).toBe(120);
    expect(s.dryRun).toBe(false);
    expect(s.nodeScaleInMax).toBe(1);
    expect(s.scaleInDrainTimeoutSeconds).toBe(900);
    expect(s.lifecycleGroups).toEqual([]);
    expect(s.lifecycleHooks).toEqual(['swarm-reflex-drain', 'swarm-reflex-join']);
    expect(s.lifecycleDrainTimeoutSeconds).toBe(600);
    expect(s.launchJoinTimeoutSeconds).toBe(900);
    expect(s.onRebalance).toBe('notify');
    expect(s.scheduledDrainLeadSeconds).toBe(3600);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.docker)).toBe(true);
  });

  it('reads each variable into its own setting', () => {
    const s = parseSettings({
      DOCKER_HOST: 'tcp://10.0.0.5:2376',
      DOCKER_TLS_VERIFY: 'yes',
      DOCKER_CERT_PATH: '/certs',
      DOCKER_TIMEOUT_MS: '1500',
      SWARM_MANAGERS: 'tcp://10.0.0.6:2376',
      DOCKER_PORT: '2377',
      WEBHOOK_TOKENS: 'a-token-of-16-chars',
      SETTINGS_PREFIX: '/swarm-reflex/prod',
      SLACK_WEBHOOK_URL: 'https://hooks.example/slack',
      NOTIFY_WEBHOOK_URL: 'http://chat.example/hook',
      NOTIFY_TIMEOUT_MS: '2500',
      CLOUD: 'aws',
      CLUSTER_TAG: 'swarm-reflex:cluster=prod=blue',
      NODE_DOWN_GRACE_SECONDS: '301',
      MAX_DOWN_SHARE: '0.5',
      MAX_REPLACEMENTS_PER_HOUR: '3',
      JOIN_TOKEN_MAX_AGE_DAYS: '30',
      WORKER_ASG_NAME: 'prod-workers',
      NODE_SCALE_COOLDOWN_SECONDS: '302',
      NODE_SCALE_STEP: '2',
      NODE_SCALE_IN_MAX: '4',
      SCALE_IN_DRAIN_TIMEOUT_SECONDS: '903',
      NODES_MIN: '5',
      NODES_MAX: '9',
      SWEEP_INTERVAL_SECONDS: '61',
      UNDER_REPLICATED_SECONDS: '304',
      REPLACE_NODE_FUNCTION: 'swarm-reflex-prod-replace-node',
      SYNC_JOIN_TOKENS_FUNCTION: 'swarm-reflex-prod-sync-join-tokens',
      LIFECYCLE_GROUPS: 'prod-workers, prod-managers',
      LIFECYCLE_HOOKS: 'drain-hook,join-hook',
      LIFECYCLE_DRAIN_TIMEOUT_SECONDS: '601',
      LAUNCH_JOIN_TIMEOUT_SECONDS: '901',
      ON_REBALANCE: 'drain',
      SCHEDULED_DRAIN_LEAD_SECONDS: '3601',
      DRY_RUN: '1',
      SCALE_COOLDOWN_SECONDS: '121',
      UPDATE_ATTEMPTS: '7',
      MAX_BODY_BYTES: '2048',
      MAX_ALERTS: '11',
      LOG_LEVEL: 'debug',
    });
    expect(s).toStrictEqual({
      docker: {
        host: 'tcp://10.0.0.5:2376',
        tlsVerify: true,
        certPath: '/certs',
        timeoutMs: 1500,
        managers: ['tcp://10.0.0.6:2376'],
        port: 2377,
      },
      webhookTokens: ['a-token-of-16-chars'],
      settingsPrefix: '/swarm-reflex/prod',
      slackWebhookUrl: 'https://hooks.example/slack',
      notifyWebhookUrl: 'http://chat.example/hook',
      notifyTimeoutMs: 2500,
      cloud: 'aws',
      clusterTag: { key: 'swarm-reflex:cluster', value: 'prod=blue' },
      nodeDownGraceSeconds: 301,
      maxDownShare: 0.5,
      maxReplacementsPerHour: 3,
      joinTokenMaxAgeDays: 30,
      workerAsgName: 'prod-workers',
      nodeScaleCooldownSeconds: 302,
      nodeScaleStep: 2,
      nodeScaleInMax: 4,
      scaleInDrainTimeoutSeconds: 903,
      nodesMin: 5,
      nodesMax: 9,
      sweepIntervalSeconds: 61,
      underReplicatedSeconds: 304,
      replaceNodeFunction: 'swarm-reflex-prod-replace-node',
      syncJoinTokensFunction: 'swarm-reflex-prod-sync-join-tokens',
      lifecycleGroups: ['prod-workers', 'prod-managers'],
      lifecycleHooks: ['drain-hook', 'join-hook'],
      lifecycleDrainTimeoutSeconds: 601,
      launchJoinTimeoutSeconds: 901,
      onRebalance: 'drain',
      scheduledDrainLeadSeconds: 3601,
      dryRun: true,
      scaleCooldownSeconds: 121,
      updateAttempts: 7,
      maxBodyBytes: 2048,
      maxAlerts: 11,
      logLevel: 'debug',
    });
    for (const part of [s, s.docker, s.docker.managers, s.webhookTokens, s.clusterTag, s.lifecycleGroups]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
  });

  it('names every bad variable in one message, in a stable order', () => {
    expect(() =>
      parseSettings({
        WEBHOOK_TOKENS: 'short',
        DOCKER_HOST: 'x',
        LOG_LEVEL: 'loud',
        DRY_RUN: 'maybe',
        NODES_MIN: 'a',
      }),
    ).toThrow(
      'invalid settings: DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port; ' +
        'WEBHOOK_TOKENS each token must be 16 to 512 printable characters without spaces; ' +
        'NODES_MIN must be a whole number from 0 to 10000; DRY_RUN must be true or false; ' +
        'LOG_LEVEL Invalid option: expected one of "debug"|"info"|"warn"|"error"',
    );
  });

  it.each([
    [{ DOCKER_HOST: 'ssh://me@host' }, /DOCKER_HOST/],
    [{ DOCKER_HOST: 'tcp://host' }, /DOCKER_HOST/],
    [{ WEBHOOK_TOKENS: 'short' }, /WEBHOOK_TOKENS/],
    [{ WEBHOOK_TOKENS: '' }, /WEBHOOK_TOKENS must be set/],
    [{ DRY_RUN: 'maybe' }, /DRY_RUN must be true or false/],
    [{ SCALE_COOLDOWN_SECONDS: '1' }, /SCALE_COOLDOWN_SECONDS must be a whole number from 5/],
    [{ MAX_BODY_BYTES: '12abc' }, /MAX_BODY_BYTES/],
    [{ NODE_SCALE_IN_MAX: '0' }, /NODE_SCALE_IN_MAX must be a whole number from 1 to 100/],
    [{ NODE_SCALE_IN_MAX: '-2' }, /NODE_SCALE_IN_MAX must be a whole number from 1 to 100/],
    [
      { SCALE_IN_DRAIN_TIMEOUT_SECONDS: '0' },
      /SCALE_IN_DRAIN_TIMEOUT_SECONDS must be a whole number from 1 to 86400/,
    ],
    [{ SCALE_IN_DRAIN_TIMEOUT_SECONDS: '15m' }, /SCALE_IN_DRAIN_TIMEOUT_SECONDS must be a whole number/],
    [{ SLACK_WEBHOOK_URL: 'javascript:alert(1)' }, /SLACK_WEBHOOK_URL/],
    [{ SWARM_MANAGERS: 'tcp://10.0.0.2:2376,http://evil/' }, /SWARM_MANAGERS "http:\/\/evil\/" must be unix/],
    [
      { SWARM_MANAGERS: Array.from({ length: 21 }, (_, i) => `unix:///m${i}.sock`).join(',') },
      /SWARM_MANAGERS at most 20/,
    ],
    [{ DOCKER_PORT: '70000' }, /DOCKER_PORT must be a whole number from 1 to 65535/],
    [{ SETTINGS_PREFIX: 'no-leading-slash' }, /SETTINGS_PREFIX/],
    [{ DOCKER_TLS_VERIFY: '1', DOCKER_HOST: 'tcp://10.0.0.1:2376' }, /DOCKER_CERT_PATH/],
    [{ LOG_LEVEL: 'chatty' }, /LOG_LEVEL/],
    [
      { LIFECYCLE_GROUPS: 'workers,bad|name' },
      /LIFECYCLE_GROUPS "bad\|name" must be an Auto Scaling group name/,
    ],
    [
      { LIFECYCLE_GROUPS: Array.from({ length: 51 }, (_, i) => `g${i}`).join(',') },
      /LIFECYCLE_GROUPS at most 50 groups/,
    ],
    [
      { LIFECYCLE_HOOKS: 'swarm-reflex-drain,my hook' },
      /LIFECYCLE_HOOKS "my hook" must be a lifecycle hook name/,
    ],
    [
      { LIFECYCLE_HOOKS: Array.from({ length: 21 }, (_, i) => `h${i}`).join(',') },
      /LIFECYCLE_HOOKS at most 20 hooks/,
    ],
    [
      { LIFECYCLE_DRAIN_TIMEOUT_SECONDS: '0' },
      /LIFECYCLE_DRAIN_TIMEOUT_SECONDS must be a whole number from 1 to 172800/,
    ],
    [
      { LAUNCH_JOIN_TIMEOUT_SECONDS: '30' },
      /LAUNCH_JOIN_TIMEOUT_SECONDS must be a whole number from 60 to 172800/,
    ],
    [{ ON_REBALANCE: 'terminate' }, /ON_REBALANCE must be notify or drain/],
    [{ SCHEDULED_DRAIN_LEAD_SECONDS: '1h' }, /SCHEDULED_DRAIN_LEAD_SECONDS must be a whole number/],
  ])('fails the start naming the variable for %o', (env, message) => {
    expect(() => parseSettings({ WEBHOOK_TOKENS: 'a-token-of-16-chars', ...env })).toThrow(message);
  });

  it('reads the further managers of the pool and their Docker API port', () => {
    const s = parseSettings({
      WEBHOOK_TOKENS: 'a-token-of-16-chars',
      SWARM_MANAGERS: ' tcp://10.0.0.2:2376 , unix:///run/m3.sock,',
      DOCKER_PORT: '2377',
    });
    expect(s.docker.managers).toEqual(['tcp://10.0.0.2:2376', 'unix:///run/m3.sock']);
    expect(s.docker.port).toBe(2377);
    expect(parseSettings({ WEBHOOK_TOKENS: 'a-token-of-16-chars' }).docker).toMatchObject({
      managers: [],
      port: 2376,
    });
  });

  it('reads how many workers one scale-in may drain', () => {
    expect(
      parseSettings({ WEBHOOK_TOKENS: 'a-token-of-16-chars', NODE_SCALE_IN_MAX: '3' }).nodeScaleInMax,
    ).toBe(3);
  });

  it('reads how long a drained worker may keep tasks before its scale-in is abandoned', () => {
    expect(
      parseSettings({ WEBHOOK_TOKENS: 'a-token-of-16-chars', SCALE_IN_DRAIN_TIMEOUT_SECONDS: '2' })
        .scaleInDrainTimeoutSeconds,
    ).toBe(2);
  });

  it('accepts tcp hosts and tokens from SSM instead of the environment', () => {
    const s = parseSettings({ DOCKER_HOST: 'tcp://10.0.0.5:2376', SETTINGS_PREFIX: '/swarm-reflex/prod' });
    expect(s.docker.host).toBe('tcp://10.0.0.5:2376');
    expect(s.webhookTokens).toEqual([]);
  });
});
