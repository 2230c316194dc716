/**
 * What the sender needs from the queue, by shape: the queue's class satisfies it structurally, so
 * send/ never imports queue/ and tests or other buffers can stand in for it.
 */

/** A record as the queue holds it: the record model plus the sequence assigned at enqueue. */
export interface SourceRecord {
  seq: number;
  kind: string;
  ts: number;
  name: string;
  value?: number;
  unit?: string;
  body?: string;
  attrs: Readonly<Record<string, string | number | boolean>>;
  source: string;
}

/** A batch keeps its seq and records across retries and restarts; that is what makes its key stable. */
export interface SourceBatch {
  seq: number;
  records: readonly SourceRecord[];
  /**
   * The same records as the source stores them, when it keeps them serialised: their JSON texts
   * without seq (`{"kind":…,…}`, fields in the record model's order) as UTF-8 in `payloads`,
   * separated by '\n' within a buffer and running on from one buffer to the next, `seqs[i]` the
   * seq of the i-th. The encoder then copies these bytes, each record's seq put in front, instead
   * of serialising `records`, which it does not touch.
   */
  stored?: {
    readonly seqs: readonly number[];
    readonly payloads: readonly Buffer[];
    /** Frees the payloads now; the sender calls it once the batch is encoded. */
    release?(): void;
  };
  bytes: number;
  createdAt: number;
  /** Earlier attempts that ended without an ack, across restarts, when the source counts them. */
  attempts?: number;
}

export interface SourceStats {
  /** Records not yet acknowledged (pending or in a batch). */
  depth: number;
  bytes: number;
  /** Formed batches, leased or not. */
  batches: number;
  leased: number;
  /** When the oldest record still held was enqueued (unix ms), or null when empty. */
  oldestTs: number | null;
}

export interface DeadLetterReason {
  code: string;
  message: string;
  status?: number;
}

export interface BatchSource {
  /** An existing un-leased batch first, else a new one from pending records, else null. */
  lease(limits: { maxRecords: number; maxBytes: number }): SourceBatch | null;
  ack(batchSeq: number): void;
  release(batchSeq: number): void;
  deadLetter(batchSeq: number, reason: DeadLetterReason): void;
  stats(): SourceStats;
  on(event: 'enqueued', listener: (count: number) => void): unknown;
  off(event: 'enqueued', listener: (count: number) => void): unknown;
}

/** Records in a batch, without parsing them when the source keeps them serialised. */
export function recordCount(batch: SourceBatch): number {
  return batch.stored?.seqs.length ?? batch.records.length;
}
