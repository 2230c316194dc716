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

/** The body of POST /api/v1/agent/data (docs/protocol.md). */
export function encodeBatch(
  batch: SourceBatch,
  identity: SendIdentity,
  options: { compression: Compression },
): EncodedBatch {
  const agent = { id: identity.agentId, hostname: identity.hostname, labels: identity.labels };
  const head = { seq: batch.seq, createdAt: batch.createdAt };
  // Spliced JSON is byte for byte what JSON.stringify makes of the same records (encode.test.ts).
  const json =
    batch.recordsJson === undefined
      ? JSON.stringify({ agent, batch: head, records: batch.records.map(wireRecord) })
      : `${JSON.stringify({ agent, batch: head }).slice(0, -1)},"records":[${batch.recordsJson.join(',')}]}`;
  const raw = Buffer.from(json, 'utf8');
  const key = idempotencyKey(identity.agentId, batch.seq);
  if (options.compression === 'zstd') {
    return { body: compress(raw), contentEncoding: 'zstd', rawBytes: raw.length, idempotencyKey: key };
  }
  return { body: raw, contentEncoding: 'identity', rawBytes: raw.length, idempotencyKey: key };
}
