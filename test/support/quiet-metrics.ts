/**
 * Powertools Metrics writes its EMF lines straight to stdout (its own Console), past vitest's
 * `silent` setting. Tests that look at them capture them (test/support/emf.ts, installed on top
 * of this); the rest of the run is spared hundreds of metric lines.
 */
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: []) =>
  String(chunk).includes('"_aws"') ? true : write(chunk, ...rest)) as typeof process.stdout.write;
