import { DROP_CLASS } from './database.ts';

/**
 * A chunk holds at most this many records and (past its first record) this many payload bytes.
 * 500 divides the usual batch sizes (1000, 2000), so batches mostly take whole chunks and forming
 * one rarely splits a chunk.
 */
export const CHUNK_MAX_RECORDS = 500;
export const CHUNK_MAX_BYTES = 256 * 1024;

/** A record to store: its canonical JSON (without seq), that JSON's UTF-8 bytes and drop class. */
export interface Row {
  payload: string;
  bytes: number;
  dropClass: number;
}

/** A stored record taken out of its chunk. */
export interface ChunkRecord extends Row {
  seq: number;
}

/** A row of the chunks table (database.ts, version 5). */
export interface ChunkRow {
  last_seq: number;
  first_seq: number;
  enqueued_at: number;
  records: number;
  bytes: number;
  /** Bit (1 << drop class) set for each class among the records. */
  classes: number;
  /** The seqs as a JSON array when they are not first_seq..last_seq (eviction took some out). */
  seqs: string | null;
  /** The records' JSON texts joined by '\n'. */
  payload: string;
}

const KIND_PREFIX = /^\{"kind":"(\w+)"/;

/** The drop class of a stored payload, from its leading "kind" (payloads are canonical, kind first). */
export function dropClassOf(payload: string): number {
  const kind = KIND_PREFIX.exec(payload)?.[1] ?? (JSON.parse(payload) as { kind?: string }).kind;
  return DROP_CLASS[kind as keyof typeof DROP_CLASS] ?? DROP_CLASS.metric;
}

export function chunkSeqs(row: Pick<ChunkRow, 'first_seq' | 'records' | 'seqs'>): number[] {
  if (row.seqs !== null) return JSON.parse(row.seqs) as number[];
  return Array.from({ length: row.records }, (_, i) => row.first_seq + i);
}

/** The chunk's records one by one, with their bytes and class; for the paths that split a chunk. */
export function chunkRecords(row: ChunkRow): ChunkRecord[] {
  const seqs = chunkSeqs(row);
  return row.payload.split('\n').map((payload, i) => ({
    seq: seqs[i]!,
    payload,
    bytes: Buffer.byteLength(payload, 'utf8'),
    dropClass: dropClassOf(payload),
  }));
}

/** A chunk row holding `records` (at least one, in seq order), enqueued at `enqueuedAt`. */
export function toChunk(records: readonly ChunkRecord[], enqueuedAt: number): ChunkRow {
  const first = records[0]!.seq;
  const last = records[records.length - 1]!.seq;
  let bytes = 0;
  let classes = 0;
  for (const record of records) {
    bytes += record.bytes;
    classes |= 1 << record.dropClass;
  }
  return {
    last_seq: last,
    first_seq: first,
    enqueued_at: enqueuedAt,
    records: records.length,
    bytes,
    classes,
    seqs: last - first === records.length - 1 ? null : JSON.stringify(records.map((r) => r.seq)),
    payload: records.map((r) => r.payload).join('\n'),
  };
}
