/** Running the host's tools (ip, iptables, umount, tar) with a fixed PATH and nothing else in the environment. */
import { execFile, spawnSync } from 'node:child_process';
import { DAEMON_PATH } from './names';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`${command} failed: ${stderr.trim() || 'no output'}`, options);
    this.name = 'CommandError';
  }
}

export function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { PATH: DAEMON_PATH } }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${command} ${args.join(' ')}`, `${stderr}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** For teardown: never throws, reports whether it worked. */
export function runQuiet(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { env: { PATH: DAEMON_PATH }, stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

export function readOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { env: { PATH: DAEMON_PATH }, encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout : '';
}
