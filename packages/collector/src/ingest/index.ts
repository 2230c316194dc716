export type { HeartbeatResponse } from './agents.ts';
export { recordHeartbeat } from './agents.ts';
export type { DataResponse, IngestBatchInput, IngestBatchResult } from './batch.ts';
export { checkIdempotencyKey, ingestBatch } from './batch.ts';
export type { DecodedBody, DecodeLimits } from './decode.ts';
export { decodeBody, zstdDecompress } from './decode.ts';
export { badBody, badRequest } from './errors.ts';
export type { DataRequest, HeartbeatRequest } from './schemas.ts';
export { parseRequest } from './schemas.ts';
