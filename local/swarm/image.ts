/**
 * The one image a swarm runs: no image can be pulled, so each node imports a rootfs with the
 * static busybox (a node without the image rejects its tasks).
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { CommandError, run } from './command';
import { BUSYBOX, BUSYBOX_IMAGE, IMAGE_DIR_PREFIX } from './names';

let imageTar: Promise<Buffer> | undefined;

/** A tar of a rootfs with the static busybox and a link per applet. Built once per process. */
function busyboxTar(): Promise<Buffer> {
  imageTar ??= buildBusyboxTar();
  return imageTar;
}

async function buildBusyboxTar(): Promise<Buffer> {
  const root = mkdtempSync(join(tmpdir(), IMAGE_DIR_PREFIX));
  try {
    for (const dir of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var']) mkdirSync(join(root, dir));
    chmodSync(join(root, 'tmp'), 0o1777);
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    const applets = (await run(BUSYBOX, ['--list'])).split('\n').filter((a) => /^[\w.[-]+$/.test(a));
    for (const applet of applets) {
      if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
    }
    writeFileSync(
      join(root, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
    );
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    return await new Promise<Buffer>((resolve, reject) => {
      execFile(
        'tar',
        ['-C', root, '-c', '.'],
        { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new CommandError('tar', stderr.toString(), { cause: err }));
          else resolve(stdout);
        },
      );
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function importBusybox(client: Docker): Promise<void> {
  const tar = await busyboxTar();
  const [repo, tag] = BUSYBOX_IMAGE.split(':');
  const stream = await client.importImage(Readable.from([tar]), { repo, tag });
  await new Promise<void>((resolve, reject) => {
    client.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((event) => event.error !== undefined);
      if (err) reject(err);
      else if (failed) reject(new Error(`docker import failed: ${failed.error}`));
      else resolve();
    });
  });
  await client.getImage(BUSYBOX_IMAGE).inspect();
}
