import { OutpostError } from '../errors.ts';

export const unauthorized = (message: string) => new OutpostError('E_UNAUTHORIZED', message);

export const enrollmentTokenInvalid = () =>
  new OutpostError(
    'E_ENROLLMENT_TOKEN_INVALID',
    'enrollment token is not valid; use the token from the collector config or its enrollment-token file',
  );

export const forbidden = (message: string) => new OutpostError('E_FORBIDDEN', message);

export const tokenFileInvalid = (file: string, problem: string) =>
  new OutpostError(
    'E_TOKEN_FILE_INVALID',
    `token file ${file} ${problem}; fix it or delete it to generate a new token`,
    {
      file,
    },
  );

export const tokenFileUnwritable = (file: string, cause: unknown) =>
  new OutpostError(
    'E_TOKEN_FILE_INVALID',
    `cannot write token file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
    { file },
    { cause },
  );
