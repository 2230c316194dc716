import { OutpostError } from '../errors.ts';

export const unitNotWritable = (path: string, cause: unknown) => {
  const code = (cause as NodeJS.ErrnoException).code;
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied: run it as root (sudo), or pick another --unit-dir, or print the unit with --dry-run'
      : code === 'ENOENT'
        ? 'the directory does not exist (is this a systemd host? see --unit-dir)'
        : cause instanceof Error
          ? cause.message
          : String(cause);
  return new OutpostError('E_SERVICE_WRITE', `cannot write ${path}: ${reason}`, { path }, { cause });
};

export const binNotFound = (name: string, tried: string) =>
  new OutpostError(
    'E_SERVICE_BIN',
    `cannot find the ${name} script next to this command (no ${tried}); reinstall the package`,
    { name, tried },
  );

export const userAddFailed = (command: string, cause: unknown) =>
  new OutpostError(
    'E_SERVICE_USER',
    `creating the service user failed (${command}): ${cause instanceof Error ? cause.message : String(cause)}`,
    { command },
    { cause },
  );

export const badServiceFlag = (flag: string, value: string, expected: string) =>
  new OutpostError('E_SERVICE_FLAG', `${flag}: expected ${expected}, got ${JSON.stringify(value)}`, {
    flag,
    value,
  });
