export type { HeartbeatResponse, RegisterResponse } from './agents.ts';
export { recordHeartbeat, registerAgent } from './agents.ts';
export type { DataResponse, IngestBatchInput, IngestBatchResult } from './batch.ts';
export { checkIdempotencyKey, ingestBatch } from './batch.ts';
export type { DecodedBody, DecodeLimits } from './decode.ts';
export { decodeBody, zstdDecompress } from './decode.ts';
export { badBody, badRequest } from './errors.ts';
export type { DataRequest, HeartbeatRequest, RegisterRequest } from './schemas.ts';
