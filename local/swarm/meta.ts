/**
 * `<tempdir>/meta.json`: everything a swarm creates on the host, recorded BEFORE it is
 * created, with the owner's pid and start time, so that `cleanupLeftovers` can tell a crashed
 * run's leftovers from a swarm that another process is starting right now.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { processStart } from '../proc';

const metaSchema = z.object({
  ownerPid: z.number(),
  ownerStart: z.string(),
  index: z.number(),
  bridge: z.string(),
  rule: z.array(z.string()),
  netns: z.array(z.string()),
  veths: z.array(z.string()),
  cgroups: z.array(z.string()),
});
export type SwarmMeta = z.infer<typeof metaSchema>;

export function readMeta(dir: string): SwarmMeta | undefined {
  try {
    const parsed = metaSchema.safeParse(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeMeta(dir: string, meta: SwarmMeta): void {
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
}

export const ownerAlive = (meta: SwarmMeta): boolean => processStart(meta.ownerPid) === meta.ownerStart;
