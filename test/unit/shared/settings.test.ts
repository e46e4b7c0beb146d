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
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.docker)).toBe(true);
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
