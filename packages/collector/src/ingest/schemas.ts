import { z } from 'zod';
import { summarizeIssues } from '../issues.ts';
import { RECORD_KINDS } from '../store/index.ts';
import { badBody } from './errors.ts';

const labels = z.record(z.string(), z.string());
const attrs = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean()], { error: 'expected string, number or boolean' }),
);

// Loose: the whole body is kept as the agent's status, and newer agents may report more.
export const heartbeatRequestSchema = z.looseObject({
  version: z.string().min(1).max(128),
  uptimeSec: z.number().nonnegative().optional(),
  configVersion: z.string().nullish(),
  queue: z
    .looseObject({
      depth: z.number().optional(),
      bytes: z.number().optional(),
      dropped: z.number().optional(),
      deadLetter: z.number().optional(),
    })
    .optional(),
  cpuPercent: z.number().optional(),
  rssBytes: z.number().optional(),
  lastSendAt: z.number().nullish(),
  plugins: z.array(z.unknown()).optional(),
});
export type HeartbeatRequest = z.output<typeof heartbeatRequestSchema>;

const recordSchema = z
  .object({
    seq: z.number().int().nonnegative(),
    kind: z.enum(RECORD_KINDS),
    ts: z.number(),
    name: z.string().min(1).max(1024),
    value: z
      .number()
      .nullish()
      .transform((v) => v ?? undefined),
    unit: z
      .string()
      .nullish()
      .transform((v) => v ?? undefined),
    body: z
      .string()
      .nullish()
      .transform((v) => v ?? undefined),
    attrs: attrs.default({}),
    source: z.string().min(1).max(256),
  })
  .superRefine((record, ctx) => {
    if (record.kind === 'metric' && record.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'required when kind is "metric"' });
    }
  });

export function dataRequestSchema(maxRecords: number) {
  return z.object({
    agent: z.object({ id: z.string().min(1), hostname: z.string().optional(), labels: labels.optional() }),
    batch: z.object({ seq: z.number().int().nonnegative(), createdAt: z.number().optional() }),
    records: z
      .array(recordSchema)
      .max(maxRecords, { error: `must have at most ${maxRecords} records (limits.max_records_per_batch)` }),
  });
}
export type DataRequest = z.output<ReturnType<typeof dataRequestSchema>>;

/** Validates a decoded body; E_BAD_BODY names the field path of each problem. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw badBody(summarizeIssues(result.error.issues, ''));
}
