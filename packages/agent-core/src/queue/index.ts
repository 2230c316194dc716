export {
  queueBadOptions,
  queueBatchNotLeased,
  queueBatchUnknown,
  queueClosed,
  queueCorrupt,
  queueFull,
  queueSchemaTooNew,
} from './errors.ts';
export type {
  Batch,
  CursorUpdates,
  DeadLetterReason,
  EnqueueOptions,
  EnqueueResult,
  QueuedRecord,
  QueueEvents,
  QueueOptions,
  QueueStats,
} from './queue.ts';
export { Queue } from './queue.ts';
