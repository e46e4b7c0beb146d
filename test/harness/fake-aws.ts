/** A fake AWS CLI for the node bootstrap: `ssm get-parameter` from a map, every call recorded. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

export interface SsmCall {
  name: string;
  withDecryption: boolean;
  args: string[];
}

const ssmCall = z.object({ args: z.array(z.string()) });

/**
 * A stand-in for the AWS CLI v2 that knows `ssm get-parameter --name N [--with-decryption]
 * [--query Parameter.Value --output text]` and logs every call (arguments only: no values).
 */
export function writeFakeAws(
  binDir: string,
  parametersFile: string,
  callsFile: string,
  data: { parameters: Record<string, string>; secure: string[] },
): void {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(parametersFile, JSON.stringify(data), { mode: 0o600 });
  const script = `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(callsFile)}, JSON.stringify({ args }) + '\\n');
const opt = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
if (args[0] !== 'ssm' || args[1] !== 'get-parameter') {
  process.stderr.write('fake aws: only "ssm get-parameter" is implemented\\n');
  process.exit(252);
}
const name = opt('--name');
const { parameters, secure } = JSON.parse(fs.readFileSync(${JSON.stringify(parametersFile)}, 'utf8'));
if (name === undefined || !Object.prototype.hasOwnProperty.call(parameters, name)) {
  process.stderr.write('\\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \\n');
  process.exit(255);
}
const isSecure = secure.includes(name);
const value = isSecure && !args.includes('--with-decryption')
  ? 'AQICAHh' + Buffer.from(parameters[name]).toString('base64').slice(0, 40)
  : parameters[name];
if (opt('--query') === 'Parameter.Value' && opt('--output') === 'text') {
  process.stdout.write(value + '\\n');
} else {
  const parameter = { Name: name, Type: isSecure ? 'SecureString' : 'String', Value: value, Version: 1 };
  process.stdout.write(JSON.stringify({ Parameter: parameter }, null, 4) + '\\n');
}
`;
  writeFileSync(join(binDir, 'aws'), script, { mode: 0o755 });
}

export function readCalls(file: string): SsmCall[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const { args } = ssmCall.parse(JSON.parse(line));
      const i = args.indexOf('--name');
      return { name: args[i + 1] ?? '', withDecryption: args.includes('--with-decryption'), args };
    });
}
