import binding from 'zstd-napi/binding.js';
import type { SourceBatch, SourceRecord } from './source.ts';

/** Who this agent is on the wire (the fleet module's SenderIdentity has this shape). */
export interface SendIdentity {
  agentId: string;
  secret: string;
  hostname: string;
  labels: Readonly<Record<string, string>>;
}

export type Compression = 'zstd' | 'none';

export interface EncodedBatch {
  body: Buffer;
  contentEncoding: 'zstd' | 'identity';
  /** Size of the JSON before compression. */
  rawBytes: number;
  idempotencyKey: string;
}

/** `<agentId>-<batchSeq>`: stable across retries and restarts because the batch keeps its seq. */
export function idempotencyKey(agentId: string, batchSeq: number): string {
  return `${agentId}-${batchSeq}`;
}

/**
 * Copies only the record model's fields, in a fixed order: whatever the queue keeps beside them
 * stays off the wire, and the same batch always encodes to the same bytes, which the collector's
 * idempotency check (SHA-256 of the body under one key) relies on.
 */
function wireRecord(r: SourceRecord): Record<string, unknown> {
  return {
    seq: r.seq,
    kind: r.kind,
    ts: r.ts,
    name: r.name,
    value: r.value,
    unit: r.unit,
    body: r.body,
    attrs: r.attrs,
    source: r.source,
  };
}

/**
 * Spliced bodies are written here, then compressed from here: one buffer for the agent's life
 * instead of a flat string of the whole batch (hundreds of KB in V8's large-object space) and its
 * UTF-8 copy for every batch. Encoding is synchronous, so no two batches share it at once.
 */
let scratch = Buffer.allocUnsafe(256 * 1024);

/** `scratch`, grown (contents kept up to `used`) so that `more` UTF-16 units fit after `used`. */
function room(used: number, more: number): Buffer {
  // Each UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
  const needed = used + more * 3;
  return needed > scratch.length ? growTo(needed, used) : scratch;
}

/** `scratch` grown to at least `needed` bytes, its contents kept up to `used`. */
function growTo(needed: number, used: number): Buffer {
  const grown = Buffer.allocUnsafe(Math.max(needed, scratch.length * 2));
  scratch.copy(grown, 0, 0, used);
  scratch = grown;
  return scratch;
}

/**
 * One zstd context (default level) and one output buffer for the agent's life: zstd-napi's
 * compress() allocated a buffer of about the body's size for every batch, garbage that piled up
 * off V8's heap (20-30 MB under a stream of log lines) until the next collection. Only the
 * compressed bytes are copied out, to be kept for retries.
 */
const cctx = new binding.CCtx();
let compressOut = Buffer.allocUnsafe(0);

function compress(raw: Buffer): Buffer {
  const bound = binding.compressBound(raw.length);
  if (compressOut.length < bound) compressOut = Buffer.allocUnsafe(bound);
  const length = cctx.compress2(compressOut, raw);
  return copyOut(compressOut, length);
}

/**
 * The first `length` bytes of `from` in a buffer of their own: Buffer.from() takes buffers of up
 * to tens of KB from a pool shared with other buffers, which releaseBody could not free.
 */
function copyOut(from: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafeSlow(length);
  from.copy(out, 0, 0, length);
  return out;
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const SEQ_KEY = Buffer.from('{"seq":', 'latin1');

/**
 * `{"agent":…,"batch":…,"records":[…]}` as UTF-8 in `scratch`, each record `{"seq":<seq>,` followed
 * by its stored text past the text's own `{`; the body's length.
 */
function writeSpliced(prefix: string, stored: NonNullable<SourceBatch['stored']>): number {
  let used = room(0, prefix.length + 1).write(prefix, 0, 'utf8');
  const { seqs, payloads } = stored;
  let n = 0;
  for (const payload of payloads) {
    for (let start = 0; start < payload.length; ) {
      let end = payload.indexOf(NEWLINE, start);
      if (end === -1) end = payload.length;
      // {"seq": (7) + up to 16 digits + ',' + the text past its '{' + the ',' between records.
      const need = used + 25 + (end - start);
      const out = need > scratch.length ? growTo(need, used) : scratch;
      if (n > 0) out[used++] = COMMA;
      used += SEQ_KEY.copy(out, used);
      used += out.write(String(seqs[n]), used, 'latin1');
      out[used++] = COMMA;
      used += payload.copy(out, used, start + 1, end);
      n++;
      start = end + 1;
    }
  }
  if (n !== seqs.length) throw new Error(`the batch holds ${n} stored records for ${seqs.length} seqs`);
  return used + room(used, 2).write(']}', used, 'latin1');
}

/**
 * Frees an acknowledged body's memory now rather than at V8's next full collection: a body in
 * flight outlives young-generation collections, and with little else promoted the old generation
 * is collected seldom, so sent bodies piled up (20 MB and more) in malloc's heap. The body is
 * empty afterwards.
 */
export function releaseBody(encoded: EncodedBatch): void {
  const { body } = encoded;
  // Only a buffer that is the whole of its ArrayBuffer: a small one may share Node's pool.
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.byteLength > 0) {
    (body.buffer as ArrayBuffer).transfer(0);
  }
}

/** The body of POST /api/v1/agent/data (docs/protocol.md). */
export function encodeBatch(
  batch: SourceBatch,
  identity: SendIdentity,
  options: { compression: Compression },
): EncodedBatch {
  const agent = { id: identity.agentId, hostname: identity.hostname, labels: identity.labels };
  const head = { seq: batch.seq, createdAt: batch.createdAt };
  const key = idempotencyKey(identity.agentId, batch.seq);
  let raw: Buffer;
  if (batch.stored === undefined) {
    const json = JSON.stringify({ agent, batch: head, records: batch.records.map(wireRecord) });
    raw = Buffer.allocUnsafeSlow(Buffer.byteLength(json, 'utf8'));
    raw.write(json, 0, 'utf8');
  } else {
    // Spliced JSON is byte for byte what JSON.stringify makes of the same records (encode.test.ts).
    const prefix = `${JSON.stringify({ agent, batch: head }).slice(0, -1)},"records":[`;
    const used = writeSpliced(prefix, batch.stored);
    // compress() returns a buffer of its own; an uncompressed body is kept for retries, so copied.
    raw = options.compression === 'zstd' ? scratch.subarray(0, used) : copyOut(scratch, used);
  }
  if (options.compression === 'zstd') {
    return { body: compress(raw), contentEncoding: 'zstd', rawBytes: raw.length, idempotencyKey: key };
  }
  return { body: raw, contentEncoding: 'identity', rawBytes: raw.length, idempotencyKey: key };
}
