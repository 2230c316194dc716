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

/** A row of the chunks table (database.ts, version 6). */
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
  /**
   * The records' JSON texts as UTF-8, separated by '\n' (JSON.stringify never writes a raw
   * newline): a BLOB, which comes back as a Buffer off V8's heap, where a text of up to 256 KiB
   * would be a large object that V8 promotes whole to its old generation.
   */
  payload: Buffer;
}

const NEWLINE = 0x0a;
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

/** The JSON texts of a chunk payload (or of several, one after another), in order. */
export function payloadTexts(payloads: readonly Buffer[]): string[] {
  const texts: string[] = [];
  for (const payload of payloads) {
    for (let start = 0; start <= payload.length; ) {
      let end = payload.indexOf(NEWLINE, start);
      if (end === -1) end = payload.length;
      texts.push(payload.toString('utf8', start, end));
      start = end + 1;
    }
  }
  return texts;
}

/** The chunk's records one by one, with their bytes and class; for the paths that split a chunk. */
export function chunkRecords(row: ChunkRow): ChunkRecord[] {
  const seqs = chunkSeqs(row);
  return payloadTexts([row.payload]).map((payload, i) => ({
    seq: seqs[i]!,
    payload,
    bytes: Buffer.byteLength(payload, 'utf8'),
    dropClass: dropClassOf(payload),
  }));
}

/**
 * The payload of a chunk of `rows`: their JSON texts as UTF-8, separated by '\n', in a buffer of
 * its own (not from Node's pool), so that StoredRecords.release can free it.
 */
export function joinPayloads(rows: readonly Row[]): Buffer {
  const text = rows.map((r) => r.payload).join('\n');
  const payload = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  payload.write(text, 0, 'utf8');
  return payload;
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
    payload: joinPayloads(records),
  };
}

const KIND_KEY = Buffer.from('{"kind":"', 'latin1');
const KIND_NAMES = Object.entries(DROP_CLASS).map(([kind, dropClass]) => ({
  name: Buffer.from(`${kind}"`, 'latin1'),
  dropClass,
}));

/** The drop class of the record text at `payload[start, end)`, read from its bytes where it can. */
function dropClassAt(payload: Buffer, start: number, end: number): number {
  const at = start + KIND_KEY.length;
  if (end > at && payload.compare(KIND_KEY, 0, KIND_KEY.length, start, at) === 0) {
    for (const { name, dropClass } of KIND_NAMES) {
      if (at + name.length <= end && payload.compare(name, 0, name.length, at, at + name.length) === 0) {
        return dropClass;
      }
    }
  }
  return dropClassOf(payload.toString('utf8', start, end));
}

/** A chunk cut in two after its first records, and the seqs of those. */
export interface ChunkSplit {
  head: ChunkRow;
  tail: ChunkRow;
  headSeqs: number[];
  /** The payload both are views of. */
  read: Buffer;
}

/**
 * Cuts `chunk` after as many leading records as `take` accepts, asked record by record with each
 * one's bytes, without making strings of them: both rows' payloads are views of the chunk's.
 * Null when `take` accepts none, or all.
 */
export function splitChunk(chunk: ChunkRow, take: (bytes: number) => boolean): ChunkSplit | null {
  const { payload } = chunk;
  const seqs = chunkSeqs(chunk);
  let start = 0;
  let taken = 0;
  let headBytes = 0;
  let headClasses = 0;
  while (taken < chunk.records) {
    let end = payload.indexOf(NEWLINE, start);
    if (end === -1) end = payload.length;
    if (!take(end - start)) break;
    headBytes += end - start;
    headClasses |= 1 << dropClassAt(payload, start, end);
    taken++;
    start = end + 1;
  }
  if (taken === 0 || taken === chunk.records) return null;
  let tailClasses = 0;
  for (let at = start; at <= payload.length; ) {
    let end = payload.indexOf(NEWLINE, at);
    if (end === -1) end = payload.length;
    tailClasses |= 1 << dropClassAt(payload, at, end);
    at = end + 1;
  }
  const headSeqs = seqs.slice(0, taken);
  const tailSeqs = seqs.slice(taken);
  const part = (partSeqs: number[], bytes: number, classes: number, from: number, to: number): ChunkRow => {
    const first = partSeqs[0]!;
    const last = partSeqs[partSeqs.length - 1]!;
    return {
      last_seq: last,
      first_seq: first,
      enqueued_at: chunk.enqueued_at,
      records: partSeqs.length,
      bytes,
      classes,
      seqs: last - first === partSeqs.length - 1 ? null : JSON.stringify(partSeqs),
      payload: payload.subarray(from, to),
    };
  };
  return {
    head: part(headSeqs, headBytes, headClasses, 0, start - 1),
    tail: part(tailSeqs, chunk.bytes - headBytes, tailClasses, start, payload.length),
    headSeqs,
    read: payload,
  };
}

/**
 * Frees a payload read from SQLite now rather than at V8's next garbage collection: such a buffer
 * is the whole of its ArrayBuffer (one that is not, e.g. from Node's pool, is left alone).
 */
export function freePayload(payload: Buffer): void {
  if (payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength) {
    (payload.buffer as ArrayBuffer).transfer(0);
  }
}

/**
 * Writes chunk payloads of rows into one buffer kept for the queue's life, so that enqueue builds
 * no joined string: SQLite copies the bound bytes, and the buffer is written over by the next chunk.
 */
export class PayloadWriter {
  #buf = Buffer.allocUnsafe(CHUNK_MAX_BYTES + 64 * 1024);

  /** `rows[from, to)` as one chunk payload; valid until the next call. */
  write(rows: readonly Row[], from: number, to: number): Buffer {
    let needed = to - from;
    for (let i = from; i < to; i++) needed += rows[i]!.bytes;
    // A first record over CHUNK_MAX_BYTES gets a buffer of its own, so one huge record does not
    // keep a huge buffer alive.
    const buf = needed <= this.#buf.length ? this.#buf : Buffer.allocUnsafe(needed);
    let used = 0;
    for (let i = from; i < to; i++) {
      if (i > from) buf[used++] = NEWLINE;
      used += buf.write(rows[i]!.payload, used, 'utf8');
    }
    return buf.subarray(0, used);
  }
}
