/**
 * `npm start`: serves every HTTP function on http://localhost:3000 (PORT overrides) at its
 * deployed path, against DOCKER_HOST or the default socket. Without a reachable swarm
 * manager, on Linux as root, it starts a private throwaway one-node swarm (local/swarm,
 * shared with the tests) with a demo service that opted in to scaling; elsewhere it says what is missing.
 * Settings are validated first, as a deployed function's are at its cold start: a bad value
 * stops it with a message naming the variable, before anything is started or served.
 * Ctrl-C stops the server and removes everything it started.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { harnessUnavailableReason, startSwarm, type TestSwarm } from '../local/swarm';
import { parseSettings } from '../shared/config/settings';
import { routes } from './local/routes';
import { startLocalServer } from './local/server';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function probe(host: string): Promise<'manager' | 'not-manager' | string> {
  const docker = host.startsWith('unix://')
    ? new Docker({ socketPath: host.slice(7), timeout: 3_000 })
    : new Docker({
        host: new URL(host.replace(/^tcp:/, 'http:')).hostname,
        port: Number(new URL(host.replace(/^tcp:/, 'http:')).port),
        timeout: 3_000,
      });
  try {
    const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    return info.Swarm?.LocalNodeState === 'active' && info.Swarm.ControlAvailable ? 'manager' : 'not-manager';
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  }
}

function installSystemPackages(): void {
  // Only what the private swarm needs; Debian/Ubuntu as root only.
  say('Installing docker.io, busybox-static, iproute2 and iptables with apt-get (once)…');
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  const install = spawnSync(
    'apt-get',
    ['install', '-y', '-qq', 'docker.io', 'busybox-static', 'iproute2', 'iptables'],
    {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
  if (update.status !== 0 || install.status !== 0)
    throw new Error('apt-get could not install docker.io and busybox-static');
}

async function main() {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT=${process.env.PORT} is not a port number`);
  let token = (process.env.WEBHOOK_TOKENS ?? '').split(',')[0]?.trim() ?? '';
  if (!token) {
    token = `local-${randomBytes(18).toString('base64url')}`;
    process.env.WEBHOOK_TOKENS = token;
    say('WEBHOOK_TOKENS was not set; generated a token for this run.');
  }
  // Throws naming every bad variable; main's catch prints it and exits non-zero.
  parseSettings(process.env);
  const host = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  let swarm: TestSwarm | undefined;
  let cleanedUp = false;
  const cleanup = async () => {
    if (cleanedUp) return;
    cleanedUp = true;
    await swarm?.teardown();
  };

  const state = await probe(host);
  if (state === 'manager') {
    process.env.DOCKER_HOST = host;
    say(`Using the swarm manager at ${host}.`);
  } else if (state === 'not-manager') {
    say(
      `The Docker engine at ${host} is not a swarm manager: run \`docker swarm init\` there (or point DOCKER_HOST at a manager), then npm start again.`,
    );
    process.exit(1);
  } else {
    const canInstall =
      process.platform === 'linux' &&
      process.getuid?.() === 0 &&
      spawnSync('which', ['apt-get']).status === 0;
    let reason = harnessUnavailableReason();
    if (reason && canInstall) {
      installSystemPackages();
      reason = harnessUnavailableReason();
    }
    if (reason) {
      say(
        `No Docker engine at ${host} (${state}), and no private swarm can be started here: ${reason}. Start Docker with \`docker swarm init\` or set DOCKER_HOST=unix:///path/to/docker.sock (or tcp://host:2375) to a swarm manager.`,
      );
      process.exit(1);
    }
    say(`No Docker engine at ${host} (${state}); starting a private throwaway one-node swarm…`);
    process.on('exit', () => void cleanup());
    swarm = await startSwarm({ managers: 1, workers: 0, label: 'start' });
    await swarm.createService({
      name: 'demo',
      replicas: 1,
      labels: { 'com.df.scaleMax': '4', 'com.df.scaleMin': '1', 'com.df.scaleCooldown': '10' },
    });
    process.env.DOCKER_HOST = swarm.manager.dockerHost;
    say(
      `Private swarm ready: DOCKER_HOST=${swarm.manager.dockerHost}, service "demo" (1 replica, scaleMax 4, cooldown 10 s).`,
    );
  }

  // Each handler validates the settings when it loads (a cold start): load them all before
  // serving, so that nothing is served by a handler that could only answer 500.
  await Promise.all(routes.map((r) => r.load())).catch(async (error: unknown) => {
    await cleanup();
    throw error;
  });
  const server = await startLocalServer({ routes, port, host: '127.0.0.1', onRequest: say });
  const base = `http://localhost:${server.port}`;
  say(`\nServing on ${base}:`);
  for (const r of routes) say(`  ${r.method} ${base}${r.path}  (${r.function})`);
  say('\nScale the demo service up by one (Jenkins-style query; the service must carry com.df.scaleMax):');
  say(
    `  curl -sS -X POST '${base}/alerts/scale-service?service=demo&scale=1' -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Manual"}}]}'`,
  );
  say('\nCtrl-C stops it.');

  const stop = async () => {
    say('\nStopping…');
    await server.close();
    await cleanup();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${(error as Error).message}\n`);
  process.exit(1);
});
