export {
  type Compression,
  type EncodedBatch,
  encodeBatch,
  idempotencyKey,
  type SendIdentity,
} from './encode.ts';
export {
  classify,
  DEFAULT_RETRY,
  parseRetryAfter,
  RetryPolicy,
  type RetryPolicyOptions,
  type StatusClass,
} from './retry-policy.ts';
export {
  type FlushResult,
  Sender,
  type SenderError,
  type SenderOptions,
  type SenderStats,
} from './sender.ts';
export {
  type BatchSource,
  type DeadLetterReason,
  recordCount,
  type SourceBatch,
  type SourceRecord,
  type SourceStats,
} from './source.ts';
export {
  HttpTransport,
  type HttpTransportOptions,
  type SendOptions,
  type SendRequest,
  type SendResult,
  type Transport,
} from './transport.ts';
