/**
 * This package's errors have the shape of each daemon's OutpostError (a stable `code`, the fix in
 * the message, `details`) but their own class: the collector's CLI prints them as its own, and
 * agent-core turns them into its OutpostError at its service folder.
 */
export class ServiceError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ServiceError';
    this.code = code;
    this.details = details;
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof ServiceError;
}

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
  return new ServiceError('E_SERVICE_WRITE', `cannot write ${path}: ${reason}`, { path }, { cause });
};

export const binNotFound = (name: string, tried: string) =>
  new ServiceError(
    'E_SERVICE_BIN',
    `cannot find the ${name} script next to this command (no ${tried}); reinstall the package`,
    { name, tried },
  );

export const userAddFailed = (command: string, cause: unknown) =>
  new ServiceError(
    'E_SERVICE_USER',
    `creating the service user failed (${command}): ${cause instanceof Error ? cause.message : String(cause)}`,
    { command },
    { cause },
  );

export const badServiceFlag = (flag: string, value: string, expected: string) =>
  new ServiceError('E_SERVICE_FLAG', `${flag}: expected ${expected}, got ${JSON.stringify(value)}`, {
    flag,
    value,
  });
