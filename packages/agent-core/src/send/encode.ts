import { compress } from 'zstd-napi';
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
  if (needed > scratch.length) {
    const grown = Buffer.allocUnsafe(Math.max(needed, scratch.length * 2));
    scratch.copy(grown, 0, 0, used);
    scratch = grown;
  }
  return scratch;
}

/** `{"agent":…,"batch":…,"records":[<recordsJson joined by ,>]}` as UTF-8 in `scratch`; its length. */
function writeSpliced(prefix: string, recordsJson: readonly string[]): number {
  let used = room(0, prefix.length + 1).write(prefix, 0, 'utf8');
  for (let i = 0; i < recordsJson.length; i++) {
    const text = recordsJson[i]!;
    const buf = room(used, text.length + 1);
    if (i > 0) buf[used++] = 0x2c; // ','
    used += buf.write(text, used, 'utf8');
  }
  return used + room(used, 2).write(']}', used, 'latin1');
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
  if (batch.recordsJson === undefined) {
    raw = Buffer.from(JSON.stringify({ agent, batch: head, records: batch.records.map(wireRecord) }), 'utf8');
  } else {
    // Spliced JSON is byte for byte what JSON.stringify makes of the same records (encode.test.ts).
    const prefix = `${JSON.stringify({ agent, batch: head }).slice(0, -1)},"records":[`;
    const used = writeSpliced(prefix, batch.recordsJson);
    // compress() returns a buffer of its own; an uncompressed body is kept for retries, so copied.
    raw = options.compression === 'zstd' ? scratch.subarray(0, used) : Buffer.from(scratch.subarray(0, used));
  }
  if (options.compression === 'zstd') {
    return { body: compress(raw), contentEncoding: 'zstd', rawBytes: raw.length, idempotencyKey: key };
  }
  return { body: raw, contentEncoding: 'identity', rawBytes: raw.length, idempotencyKey: key };
}
