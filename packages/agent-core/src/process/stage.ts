import type { OutpostRecord } from '@outpost/plugin-sdk';
import type { Logger } from 'pino';

export interface StageCounters {
  in: number;
  out: number;
  dropped: number;
  errors: number;
}

export interface StageContext {
  readonly counters: StageCounters;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * A processor that looks at one record at a time: returns it (the same object when unchanged,
 * a copy otherwise — input records are never mutated, so taps and callers keep what they saw),
 * or null when the record is dropped (the stage counts that) or consumed.
 */
export type ApplyRecord = (record: OutpostRecord) => OutpostRecord | null;

/** Logs a stage's problem the first time each distinct message appears, to keep a hot path quiet. */
export function onceLogger(logger: Logger): (message: string, details?: Record<string, unknown>) => void {
  // Bounded for messages that keep changing (e.g. ones embedding a value).
  const seen = new Set<string>();
  return (message, details) => {
    if (seen.has(message) || seen.size >= 64) return;
    seen.add(message);
    logger.warn(details ?? {}, message);
  };
}
