import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsError } from '../domain/errors';

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** ca.pem, cert.pem and key.pem under DOCKER_CERT_PATH; a file that cannot be read is named. */
export function readTlsFiles(dir: string): TlsMaterial {
  const read = (file: string) => {
    const path = join(dir, file);
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code ?? String(error);
      throw new SettingsError(`DOCKER_CERT_PATH: cannot read ${path} (${code})`, { cause: error });
    }
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}
