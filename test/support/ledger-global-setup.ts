import { rmSync } from 'node:fs';
import { LEDGER_DIR } from './ledger-dir';

/** A run of the unit and integration tests starts a fresh ledger of AWS calls. */
export default function setup(): void {
  rmSync(LEDGER_DIR, { recursive: true, force: true });
}
