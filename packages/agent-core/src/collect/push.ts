import type { OutpostRecord } from '@outpost/plugin-sdk';
import { normalizeRecords, RecordProblem } from '@outpost/plugin-sdk/records';
import { z } from 'zod';
import { OutpostError } from '../errors.ts';

/** Most records one push (agentctl emit, POST /v1/records) may carry; bigger sets go in several. */
export const MAX_PUSHED_RECORDS = 10_000;

const pushBody = z.strictObject({ records: z.array(z.unknown()).min(1).max(MAX_PUSHED_RECORDS) });

const badPush = (where: string, message: string, details?: Record<string, unknown>) =>
  new OutpostError('E_BAD_REQUEST', `pushed records: ${where}: ${message}`, details);

/**
 * The records of a body shaped as pushBody, else undefined. The schema walks every element of
 * the list (z.unknown() each): a body that passes this needs no schema, one that fails gets the
 * schema's error.
 */
function recordsOf(body: unknown): unknown[] | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  let records: unknown;
  for (const key in body) {
    if (key !== 'records') return undefined;
    records = (body as { records: unknown }).records;
  }
  if (!Array.isArray(records) || records.length < 1 || records.length > MAX_PUSHED_RECORDS) return undefined;
  return records;
}

/**
 * Records pushed by a person or a script on the host, checked as plugin output is (the SDK's
 * normalizeRecord and RECORD_LIMITS). Missing ts is now, missing source "push". `body` must be the
 * caller's own, fresh from JSON.parse: its records are completed in place and returned.
 */
export function parsePushedRecords(body: unknown, now = Date.now()): OutpostRecord[] {
  let records = recordsOf(body);
  if (records === undefined) {
    const parsed = pushBody.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badPush(issue?.path.length ? issue.path.join('.') : '(body)', issue?.message ?? 'invalid', {
        issues: parsed.error.issues.slice(0, 10),
      });
    }
    records = parsed.data.records;
  }
  try {
    const options = { now, source: 'push', keepSource: true, inPlace: true, dottedPaths: true };
    return normalizeRecords(records, 'records', options);
  } catch (err) {
    if (!(err instanceof RecordProblem)) throw err;
    throw badPush(err.path, err.problem, { path: err.path, index: err.index });
  }
}
