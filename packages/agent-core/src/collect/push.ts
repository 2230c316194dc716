import type { OutpostRecord } from '@outpost/plugin-sdk';
import { normalizeRecord, RecordProblem } from '@outpost/plugin-sdk/records';
import { z } from 'zod';
import { OutpostError } from '../errors.ts';

/** Most records one push (agentctl emit, POST /v1/records) may carry; bigger sets go in several. */
export const MAX_PUSHED_RECORDS = 10_000;

const pushBody = z.strictObject({ records: z.array(z.unknown()).min(1).max(MAX_PUSHED_RECORDS) });

const badPush = (where: string, message: string, details?: Record<string, unknown>) =>
  new OutpostError('E_BAD_REQUEST', `pushed records: ${where}: ${message}`, details);

/**
 * Records pushed by a person or a script on the host, checked as plugin output is (the SDK's
 * normalizeRecord and RECORD_LIMITS). Missing ts is now, missing source "push".
 */
export function parsePushedRecords(body: unknown, now = Date.now()): OutpostRecord[] {
  const parsed = pushBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badPush(issue?.path.length ? issue.path.join('.') : '(body)', issue?.message ?? 'invalid', {
      issues: parsed.error.issues.slice(0, 10),
    });
  }
  const options = { now, source: 'push', keepSource: true };
  const records = parsed.data.records;
  const out: OutpostRecord[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    try {
      out[i] = normalizeRecord(records[i], `records.${i}`, options);
    } catch (err) {
      if (!(err instanceof RecordProblem)) throw err;
      throw badPush(err.path, err.problem, { path: err.path, index: i });
    }
  }
  return out;
}
