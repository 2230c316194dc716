import { OutpostError } from '../errors.ts';

export const queueFull = (details: { bytes: number; incomingBytes: number; maxBytes: number }) =>
  new OutpostError(
    'E_QUEUE_FULL',
    `queue is full (${details.bytes} of ${details.maxBytes} bytes stored, ${details.incomingBytes} more offered); ` +
      'policy "block" pauses inputs until the sender drains it — raise queue max bytes or use policy "drop_oldest"',
    details,
  );

export const queueClosed = () =>
  new OutpostError('E_QUEUE_CLOSED', 'queue is closed; open it again to enqueue, lease or ack');

export const queueCorrupt = (path: string, reason: string, cause?: unknown) =>
  new OutpostError(
    'E_QUEUE_CORRUPT',
    `queue file ${path} is corrupt (${reason}); move it aside or delete it to start an empty queue`,
    { path, reason },
    { cause },
  );

export const queueSchemaTooNew = (path: string, found: number, supported: number) =>
  new OutpostError(
    'E_QUEUE_SCHEMA',
    `queue file ${path} has schema version ${found}, this agent understands up to ${supported}; ` +
      'it was written by a newer agent — upgrade the agent or point it at another state dir',
    { path, found, supported },
  );

export const queueBatchUnknown = (batchSeq: number) =>
  new OutpostError(
    'E_QUEUE_BATCH_UNKNOWN',
    `queue has no batch ${batchSeq}; it was already acked or dead-lettered, or never formed`,
    { batchSeq },
  );

export const queueBatchNotLeased = (batchSeq: number) =>
  new OutpostError(
    'E_QUEUE_BATCH_NOT_LEASED',
    `queue batch ${batchSeq} is not leased; only a leased batch can be released`,
    { batchSeq },
  );

export const queueBadOptions = (message: string) =>
  new OutpostError('E_QUEUE_OPTIONS', `invalid queue options: ${message}`);

export const queueDiskFull = (path: string, operation: string, cause: unknown) =>
  new OutpostError(
    'E_QUEUE_DISK_FULL',
    `queue ${operation} failed: the disk holding ${path} is full; nothing of this ${operation} was stored. ` +
      'Free space there: inputs are refused meanwhile and sending resumes on its own',
    { path, operation },
    { cause },
  );

export const queueIoError = (path: string, operation: string, cause: unknown) =>
  new OutpostError(
    'E_QUEUE_IO',
    `queue ${operation} failed with an I/O error on ${path} (${cause instanceof Error ? cause.message : String(cause)}); ` +
      'nothing of this operation was stored — check the disk and the kernel log',
    { path, operation },
    { cause },
  );
