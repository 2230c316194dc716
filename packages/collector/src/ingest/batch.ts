import { forbidden } from '../auth/index.ts';
import type { Store } from '../store/index.ts';
import { ContentHash } from './content-hash.ts';
import { parseDataRequest } from './data-request.ts';
import { badRequest, idempotencyConflict } from './errors.ts';
import type { DataRequest } from './schemas.ts';

export interface DataResponse {
  batchSeq: number;
  accepted: number;
}

export interface IngestBatchInput {
  /** The authenticated agent. */
  agentId: string;
  idempotencyKey: string;
  /** The decoded JSON body. */
  body: unknown;
  /** The body's JSON bytes (decompressed), when at hand: the content hash is then taken over them. */
  bytes?: Buffer | undefined;
  maxRecordsPerBatch: number;
  now: number;
}

export interface IngestBatchResult {
  response: DataResponse;
  /** True when the key was seen before with the same body: nothing was stored this time. */
  replayed: boolean;
  /** Records skipped because their (agent, seq) was already stored under another key. */
  duplicates: number;
}

/**
 * Checks the Idempotency-Key header: required, and `<agentId>-<batchSeq>` as the protocol says. The
 * agent-id prefix keeps one agent from using up (or probing) another agent's keys.
 */
export function checkIdempotencyKey(header: string | string[] | undefined, agentId: string): string {
  if (header === undefined || header === '') {
    throw badRequest('Idempotency-Key header is required on data batches: "<agentId>-<batchSeq>"');
  }
  if (Array.isArray(header)) throw badRequest('Idempotency-Key header must be sent once');
  if (header.length > 256 || !/^[\x21-\x7e]+$/.test(header)) {
    throw badRequest('Idempotency-Key must be at most 256 visible ASCII characters: "<agentId>-<batchSeq>"');
  }
  if (!header.startsWith(`${agentId}-`)) {
    throw forbidden(
      `Idempotency-Key "${header}" does not start with the authenticated agent id "${agentId}-"`,
    );
  }
  return header;
}

/**
 * Validates a data batch and stores its records and its idempotency key in one transaction, so a
 * retry either finds the key (and gets the first answer back) or stores everything.
 */
export async function ingestBatch(store: Store, input: IngestBatchInput): Promise<IngestBatchResult> {
  const request: DataRequest = parseDataRequest(input.body, input.maxRecordsPerBatch);
  if (request.agent.id !== input.agentId) {
    throw forbidden(`agent.id "${request.agent.id}" is not the authenticated agent (${input.agentId})`);
  }
  const content = new ContentHash(input.body, input.bytes, request);
  return store.transaction(async (tx) => {
    const existing = await tx.getIdempotency(input.idempotencyKey);
    if (existing) {
      if (existing.agentId !== input.agentId || !content.matches(existing.contentSha256)) {
        throw idempotencyConflict(input.idempotencyKey);
      }
      return { response: existing.response as DataResponse, replayed: true, duplicates: 0 };
    }
    const inserted = await tx.insertRecords(input.agentId, request.records, input.now);
    const response: DataResponse = { batchSeq: request.batch.seq, accepted: request.records.length };
    await tx.putIdempotency({
      key: input.idempotencyKey,
      agentId: input.agentId,
      contentSha256: content.value,
      response,
      createdAt: input.now,
    });
    return { response, replayed: false, duplicates: request.records.length - inserted };
  });
}
