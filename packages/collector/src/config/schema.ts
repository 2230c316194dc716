import { z } from 'zod';
import { type ListenAddress, parseDuration, parseListen, parseSize } from './units.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LISTEN = '127.0.0.1:7410';
export const DEFAULT_LIMITS = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxDecompressedBytes: 64 * 1024 * 1024,
  maxRecordsPerBatch: 10_000,
};
export const DEFAULT_OFFLINE_AFTER_MS = 30_000;
export const MIN_TOKEN_LENGTH = 16;

const size = z.unknown().transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < 1) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a size such as "8MiB", "512KiB" or a number of bytes',
    });
    return z.NEVER;
  }
  return bytes;
});

const duration = z.unknown().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as "30s", "500ms" or "2m"' });
    return z.NEVER;
  }
  return ms;
});

const listen = z.unknown().transform((value, ctx): ListenAddress => {
  const address = parseListen(value);
  if (address === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port, such as "127.0.0.1:7410" or "[::1]:7410"' });
    return z.NEVER;
  }
  return address;
});

// Tokens travel in an Authorization header, so they must be visible ASCII without spaces.
const token = z
  .string()
  .min(MIN_TOKEN_LENGTH)
  .regex(/^[\x21-\x7e]+$/, { error: 'must be visible ASCII characters without spaces' });

const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).nullish();

/** Every key is optional: a layer (file, flags, env) only sets what it names. Keys are snake_case as in YAML. */
export const rawConfigSchema = z.strictObject({
  listen: listen.optional(),
  data_dir: z.string().min(1).optional(),
  enrollment_token: token.optional(),
  admin_token: token.optional(),
  limits: section({
    max_body_bytes: size.optional(),
    max_decompressed_bytes: size.optional(),
    max_records_per_batch: z.number().int().min(1).optional(),
  }),
  agents: section({ offline_after: duration.optional() }),
  log: section({ level: z.enum(LOG_LEVELS).optional() }),
});

export type RawConfig = z.output<typeof rawConfigSchema>;

/** The keys each section accepts, for "did you mean" hints on unknown keys. */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = rawConfigSchema;
  for (const segment of path) {
    const shape = objectShape(schema);
    const next = shape?.[String(segment)];
    if (!next) return [];
    schema = next;
  }
  return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let current: z.ZodType = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
    current = current.unwrap() as z.ZodType;
  }
  return current instanceof z.ZodObject ? (current.shape as Record<string, z.ZodType>) : undefined;
}
