import { OutpostError } from '../errors.ts';

export const badBody = (message: string) => new OutpostError('E_BAD_BODY', message);

export const badCompressedBody = (problem: string) =>
  new OutpostError(
    'E_BAD_COMPRESSED_BODY',
    `body is not a valid zstd frame (Content-Encoding: zstd): ${problem}`,
  );

export const decompressedTooLarge = (limit: number) =>
  new OutpostError(
    'E_DECOMPRESSED_TOO_LARGE',
    `decompressed body is larger than limits.max_decompressed_bytes (${limit} bytes); send smaller batches`,
    { limit },
  );

export const unsupportedEncoding = (encoding: string) =>
  new OutpostError(
    'E_UNSUPPORTED_ENCODING',
    `Content-Encoding "${encoding}" is not supported; send "zstd" or "identity"`,
    { encoding },
  );

export const idempotencyConflict = (key: string) =>
  new OutpostError(
    'E_IDEMPOTENCY_CONFLICT',
    `Idempotency-Key "${key}" was already used with a different body; a retry must resend the same batch`,
    { key },
  );

export const badRequest = (message: string) => new OutpostError('E_BAD_REQUEST', message);
