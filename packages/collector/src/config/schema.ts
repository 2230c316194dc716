import { isIP } from 'node:net';
import { z } from 'zod';
import { type ListenAddress, parseDuration, parseListen, parseSize } from './units.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** auto: pretty lines when stdout is a terminal, JSON otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

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

// Fastify's trustProxy takes addresses and CIDR ranges (proxy-addr); anything else would be ignored silently.
const proxyAddress = z.string().refine(
  (value) => {
    const [address = '', bits, ...rest] = value.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
  },
  { error: 'expected an IP address or CIDR range, such as "10.0.0.5" or "10.0.0.0/8"' },
);

const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).nullish();

export const SINK_TYPES = ['http', 'otlp'] as const;
export const DEFAULT_RETENTION = { rawMs: 7 * 86_400_000, rollupsMs: 90 * 86_400_000, intervalMs: 60_000 };
export const DEFAULT_EVALUATE_INTERVAL_MS = 10_000;

/** A forwarding sink: `http` posts NDJSON to url; `otlp` posts OTLP/HTTP JSON to url + /v1/metrics and /v1/logs. */
const sink = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    error: 'expected lowercase letters, digits, "-" or "_" (it names the sink in metrics and its cursor)',
  }),
  type: z.enum(SINK_TYPES),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).optional(),
  kinds: z
    .array(z.enum(['metric', 'log', 'event', 'alert']))
    .min(1)
    .optional(),
  batch_size: z.number().int().min(1).max(10_000).optional(),
  timeout: duration.optional(),
  retry: section({ initial_backoff: duration.optional(), max_backoff: duration.optional() }),
});

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
  server: section({ trusted_proxies: z.array(proxyAddress).optional() }),
  log: section({ level: z.enum(LOG_LEVELS).optional(), format: z.enum(LOG_FORMATS).optional() }),
  alerts: section({ evaluate_interval: duration.optional() }),
  retention: section({
    raw: duration.optional(),
    rollups: duration.optional(),
    interval: duration.optional(),
  }),
  forward: z
    .array(sink)
    .refine((sinks) => new Set(sinks.map((s) => s.name)).size === sinks.length, {
      error: 'sink names must be unique',
    })
    .nullish(),
});

export type RawConfig = z.output<typeof rawConfigSchema>;

/** The keys each section accepts, for "did you mean" hints on unknown keys. */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = rawConfigSchema;
  for (const segment of path) {
    const list = unwrap(schema);
    if (typeof segment === 'number' && list instanceof z.ZodArray) {
      schema = list.element as z.ZodType;
      continue;
    }
    const shape = objectShape(schema);
    const next = shape?.[String(segment)];
    if (!next) return [];
    schema = next;
  }
  return Object.keys(objectShape(schema) ?? {});
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const current = unwrap(schema);
  return current instanceof z.ZodObject ? (current.shape as Record<string, z.ZodType>) : undefined;
}
