import type { OutpostRecord } from '@outpost/plugin-sdk';
import { z } from 'zod';
import { OutpostError } from '../errors.ts';

/** Most records one push (agentctl emit, POST /v1/records) may carry; bigger sets go in several. */
export const MAX_PUSHED_RECORDS = 10_000;

const attrValue = z.union([z.string(), z.number().finite(), z.boolean()]);
const pushedRecord = z.strictObject({
  kind: z.enum(['metric', 'log', 'event', 'alert']),
  ts: z.number().int().nonnegative().optional(),
  name: z.string().min(1).max(512),
  value: z.number().finite().optional(),
  unit: z.string().max(64).optional(),
  body: z
    .string()
    .max(1024 * 1024)
    .optional(),
  attrs: z.record(z.string().min(1).max(256), attrValue).optional(),
  source: z.string().min(1).max(256).optional(),
});
const pushBody = z.strictObject({ records: z.array(pushedRecord).min(1).max(MAX_PUSHED_RECORDS) });

/**
 * Records pushed by a person or a script on the host. Missing ts is now, missing source "push";
 * a metric without a value is refused, as the collector would.
 */
export function parsePushedRecords(body: unknown, now = Date.now()): OutpostRecord[] {
  const parsed = pushBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(body)';
    throw new OutpostError('E_BAD_REQUEST', `pushed records: ${where}: ${issue?.message ?? 'invalid'}`, {
      issues: parsed.error.issues.slice(0, 10),
    });
  }
  return parsed.data.records.map((r, i) => {
    if (r.kind === 'metric' && r.value === undefined) {
      throw new OutpostError('E_BAD_REQUEST', `pushed records: records.${i}.value: a metric needs a value`);
    }
    const record: OutpostRecord = {
      kind: r.kind,
      ts: r.ts ?? now,
      name: r.name,
      attrs: r.attrs ?? {},
      source: r.source ?? 'push',
    };
    if (r.value !== undefined) record.value = r.value;
    if (r.unit !== undefined) record.unit = r.unit;
    if (r.body !== undefined) record.body = r.body;
    return record;
  });
}
