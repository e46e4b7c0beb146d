import { vi } from 'vitest';

/**
 * The CloudWatch EMF lines (Powertools Metrics writes them to stdout) that `work` writes,
 * parsed. Other stdout output passes through.
 */
export async function captureEmf<T>(
  work: () => Promise<T>,
): Promise<{ result: T; emf: Record<string, unknown>[] }> {
  const emf: Record<string, unknown>[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
    for (const line of String(chunk).split('\n')) {
      if (!line.includes('"_aws"')) continue;
      emf.push(JSON.parse(line) as Record<string, unknown>);
    }
    if (String(chunk).includes('"_aws"')) return true;
    return write(chunk, ...(rest as []));
  });
  try {
    return { result: await work(), emf };
  } finally {
    spy.mockRestore();
  }
}
