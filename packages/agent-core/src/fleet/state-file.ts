import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stateFileInvalid } from './errors.ts';

/** The parsed file, or undefined when it does not exist; `invalid` makes the error for bad JSON. */
export function readJsonFile(
  path: string,
  invalid: (path: string, reason: string) => Error = stateFileInvalid,
): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(path, 'not valid JSON');
  }
}

/** Write-then-rename so a crash leaves the old file or the new one, never half of one (or of a secret). */
export function writeJsonFile(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}
