export {
  queueBadOptions,
  queueBatchNotLeased,
  queueBatchUnknown,
  queueClosed,
  queueCorrupt,
  queueDiskFull,
  queueFull,
  queueIoError,
  queueSchemaTooNew,
} from './errors.ts';
export type {
  Batch,
  CursorUpdates,
  DeadLetterBatch,
  DeadLetterReason,
  EnqueueOptions,
  EnqueueResult,
  QueuedRecord,
  QueueEvents,
  QueueOptions,
  QueueStats,
  StoredRecords,
} from './queue.ts';
export { Queue } from './queue.ts';
export type { QueueFileReport } from './verify.ts';
export { verifyQueueFile } from './verify.ts';
