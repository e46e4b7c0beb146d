import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { routes } from '../../../scripts/local/routes';

const root = new URL('../../../', import.meta.url);
const serverless = parse(readFileSync(new URL('serverless.yml', root), 'utf8')) as {
  provider: { runtime: string };
  // The HTTP API routes with httpExposure=api (the default) and both; none with url.
  custom: { routes: Record<string, Record<string, Array<{ httpApi: { method: string; path: string } }>>> };
  functions: Record<string, { handler: string }>;
};

describe('deployment config', () => {
  it('serves locally exactly the HTTP routes serverless.yml deploys', () => {
    const deployed = Object.entries(serverless.custom.routes.api ?? {}).flatMap(([name, events]) =>
      events.map((e) => `${e.httpApi.method} ${e.httpApi.path} ${name}`),
    );
    expect(routes.map((r) => `${r.method} ${r.path} ${r.function}`).sort()).toEqual(deployed.sort());
  });

  it('runs on Lambda nodejs22.x, each handler at functions/<name>/handler.handler', () => {
    expect(serverless.provider.runtime).toBe('nodejs22.x');
    for (const [name, fn] of Object.entries(serverless.functions)) {
      expect(fn.handler).toBe(`functions/${name}/handler.handler`);
    }
  });

  it('ships an Alertmanager config that amtool accepts', () => {
    const amtool = spawnSync('amtool', ['check-config', new URL('deploy/alertmanager.yml', root).pathname], {
      encoding: 'utf8',
    });
    if (amtool.error && process.env.CI !== 'true') return; // amtool not installed on this machine
    expect(amtool.stdout + amtool.stderr).toMatch(/SUCCESS/);
    expect(amtool.status).toBe(0);
  });

  const hasPromtool = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
  it.skipIf(!hasPromtool && process.env.CI !== 'true')(
    'ships Prometheus rules that promtool accepts and that produce the routed labels',
    () => {
      const check = spawnSync(
        'promtool',
        ['check', 'rules', new URL('deploy/prometheus-rules.yml', root).pathname],
        {
          encoding: 'utf8',
        },
      );
      expect(check.stdout + check.stderr).toMatch(/SUCCESS: 5 rules found/);
      const test = spawnSync(
        'promtool',
        ['test', 'rules', new URL('deploy/prometheus-rules.test.yml', root).pathname],
        {
          encoding: 'utf8',
        },
      );
      expect(test.stdout + test.stderr).toMatch(/SUCCESS/);
      expect(test.status).toBe(0);
    },
  );
});
