/**
 * `npm run sweep`: the health sweep, once, against the first swarm manager that answers of
 * DOCKER_HOST (or /var/run/docker.sock) and SWARM_MANAGERS, printed as a table. A dry run unless `--apply`: then it completes
 * scale-ins, force-updates opted-in services and sends its messages to SLACK_WEBHOOK_URL /
 * NOTIFY_WEBHOOK_URL. It never calls AWS: nothing is dispatched, and the findings say so.
 * `--json` prints the result as the Lambda function returns it.
 */

import { sweep } from '../functions/health-sweep/health-sweep';
import { createNotifier } from '../shared/adapters/chat';
import { reportOnlyDispatcher } from '../shared/adapters/lambda';
import { createLogger } from '../shared/adapters/logger';
import { createSwarmNodes, createSwarmServices, createSwarmTasks } from '../shared/adapters/swarm';
import { buildManagerPool, dockerClients } from '../shared/config/managers';
import { parseSettings } from '../shared/config/settings';
import { ReflexError } from '../shared/domain/errors';
import type { ChatTarget } from '../shared/domain/notice';
import { findingsTable } from './local/findings-table';

const say = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--apply' && a !== '--json');
  if (unknown.length > 0) {
    say(`unknown argument ${unknown[0]}; usage: npm run sweep [-- --apply] [--json]`);
    return 2;
  }
  const apply = args.includes('--apply');
  // No webhook here: the sweep needs no token.
  const settings = parseSettings(process.env, { tokens: 'optional' });
  // DOCKER_HOST, then SWARM_MANAGERS: the first manager that answers (no SSM here).
  const client = buildManagerPool(settings, {
    client: dockerClients(settings, async () => undefined),
    parameters: undefined,
  });
  const debug = settings.logLevel === 'debug';
  const log = createLogger({
    level: debug ? 'debug' : 'warn',
    // Metric and audit lines (no level) are for CloudWatch; here only warnings and errors show.
    sink: (line) => {
      if (debug || line.startsWith('{"level"')) process.stderr.write(`${line}\n`);
    },
  });
  const targets: ChatTarget[] = [
    ...(settings.slackWebhookUrl ? [{ kind: 'slack' as const, url: settings.slackWebhookUrl }] : []),
    ...(settings.notifyWebhookUrl ? [{ kind: 'webhook' as const, url: settings.notifyWebhookUrl }] : []),
  ];
  const now = new Date();
  const dryRun = !apply || settings.dryRun;
  const result = await sweep(
    {
      nodes: createSwarmNodes(client),
      services: createSwarmServices(client),
      tasks: createSwarmTasks(client),
      group: undefined,
      dispatcher: reportOnlyDispatcher('npm run sweep calls no AWS'),
      joinParameters: { notChecked: 'npm run sweep calls no AWS' },
      notifier: createNotifier({
        source: 'health-sweep (npm run sweep)',
        targets: async () => targets,
        timeoutMs: settings.notifyTimeoutMs,
        log,
      }),
      clock: { now: () => new Date() },
      settings,
    },
    { at: now, dryRun, log },
  );
  if (args.includes('--json')) {
    say(JSON.stringify({ ...result, manager: client.current }, null, 2));
    return 0;
  }
  say(
    `Health sweep through ${client.current ?? settings.docker.host} at ${now.toISOString()}: ${
      dryRun
        ? 'dry run, nothing was changed or sent (npm run sweep -- --apply to act)'
        : `applied; messages to ${targets.length} chat target(s)`
    }.\n\n`,
  );
  say(findingsTable(result, now));
  if (!dryRun && targets.length === 0 && result.outcomes.some((f) => f.action === 'notified')) {
    say(
      'No chat target is set (SLACK_WEBHOOK_URL, NOTIFY_WEBHOOK_URL): what "notified" would say is only printed here.',
    );
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(
      // Settings and Docker errors say what is wrong and which variable to change.
      error instanceof ReflexError
        ? `npm run sweep: ${error.message}`
        : `npm run sweep failed: ${(error as Error)?.stack ?? String(error)}`,
    );
    process.exit(1);
  },
);
