import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the tests write the AWS calls they saw (no vitest import: the global setup uses it too). */
export const LEDGER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.tmp', 'aws-ledger');
