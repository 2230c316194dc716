import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import {
  CHUNK_MAX_BYTES,
  CHUNK_MAX_RECORDS,
  type ChunkRecord,
  type ChunkRow,
  type ChunkSplit,
  chunkRecords,
  chunkSeqs,
  dropClassOf,
  freePayload,
  PayloadWriter,
  payloadTexts,
  type Row,
  splitChunk,
  toChunk,
} from './chunk.ts';
import {
  BUSY_TIMEOUT_MS,
  DROP_CLASS,
  EVICTABLE_CLASSES,
  lastSequences,
  openQueueDatabase,
  raiseSequences,
} from './database.ts';
import {
  queueBadOptions,
  queueBatchNotLeased,
  queueBatchUnknown,
  queueClosed,
  queueDiskFull,
  queueFull,
  queueIoError,
} from './errors.ts';
import { SequenceCeiling } from './sequence-ceiling.ts';

export interface QueueOptions {
  /** SQLite file; parent dirs are created. */
  path: string;
  /** Bound on the summed size of stored records (JSON payload bytes). */
  maxBytes: number;
  /** Records older than this (by enqueue time) are dropped, reason 'max_age' (not from formed batches). */
  maxAgeMs?: number;
  policy: 'drop_oldest' | 'block';
  /** synchronous=NORMAL (survives kill -9) or FULL (survives power loss). */
  durability: 'normal' | 'full';
  logger: Logger;
  /** Clock, for tests. */
  now?: () => number;
  /** Most records stored in one row (chunk); default CHUNK_MAX_RECORDS. Smaller only for tests. */
  chunkMaxRecords?: number;
}

/** `seq` is assigned by the queue at enqueue: strictly increasing, never reused (see the seq ceiling). */
export interface QueuedRecord extends OutpostRecord {
  seq: number;
}

/**
 * A batch's records as the queue stores them: `payloads` hold their JSON texts without seq
 * (`{"kind":…}`, fields in the record model's order) as UTF-8, separated by '\n' within a buffer
 * and running on from one buffer to the next; `seqs[i]` is the seq of the i-th text.
 */
export interface StoredRecords {
  readonly seqs: readonly number[];
  readonly payloads: readonly Buffer[];
  /**
   * Frees the payloads' memory now rather than at V8's next collection, which can be 50 MB of
   * reads later: read back from SQLite they are off V8's heap, and the young generation's few
   * objects let garbage collections come seldom. The payloads are empty afterwards, and so are
   * `records` unless read before.
   */
  release(): void;
}

export interface Batch {
  seq: number;
  records: QueuedRecord[];
  /** The records as stored, for the sender to copy without parsing them; see toBatch. */
  readonly stored?: StoredRecords;
  bytes: number;
  createdAt: number;
  attempts: number;
}

/**
 * Input positions committed in the same transaction as the records read up to them, so a restart
 * resumes exactly after what the queue holds. A null value deletes the cursor.
 */
export type CursorUpdates = Record<string, string | null>;

export interface EnqueueOptions {
  cursors?: CursorUpdates;
}

/** `dropped` counts older records evicted by drop_oldest to make room. */
export interface EnqueueResult {
  accepted: number;
  dropped: number;
}

export interface QueueStats {
  /** Records stored (pending + in batches). */
  depth: number;
  /** Their summed payload bytes. */
  bytes: number;
  /** Formed batches not yet acked (leased or not). */
  batches: number;
  /** Batches currently leased. */
  leased: number;
  /** Enqueue time of the oldest stored record. */
  oldestTs: number | null;
  /** Records accepted since open. */
  enqueued: number;
  /** Records acked since open. */
  acked: number;
  /** By reason since the file was created: 'queue_full', 'max_age', 'purged' (dead letters deleted by hand). */
  dropped: Record<string, number>;
  /** Records in the dead-letter table. */
  deadLetter: number;
  /** Highest record seq ever assigned (0 if none). */
  lastSeq: number;
  /** True if open() found a corrupt file and moved it aside. */
  corruptRecovered: boolean;
  /** Committed WAL frames open() found missing (the -wal deleted or cut short); 0 normally. */
  walLostFrames: number;
}

export interface DeadLetterReason {
  code: string;
  message: string;
  status?: number;
}

/** The records of one dead-lettered batch and why the collector refused it. */
export interface DeadLetterBatch {
  batchSeq: number;
  records: number;
  bytes: number;
  attempts: number;
  code: string;
  message: string;
  status: number | null;
  deadAt: number;
  /** The first records, to see what was refused. */
  sample: QueuedRecord[];
}

export interface QueueEvents {
  enqueued: [count: number];
}

type DropReason = 'queue_full' | 'max_age' | 'purged';

/** A batch's records as stored: seqs in order, chunk payloads holding their texts, summed bytes. */
interface BatchContent {
  seqs: number[];
  payloads: Buffer[];
  bytes: number;
  /** The chunk payloads read from SQLite that `payloads` are (or are views of), to free. */
  read: Buffer[];
}

interface Delta {
  depth: number;
  bytes: number;
  queueFull: number;
  maxAge: number;
}

interface EnqueueOutcome extends Delta {
  accepted: number;
  evicted: number;
  lastSeq: number;
  full: boolean;
}

interface LeaseOutcome extends Delta {
  batch: Batch | null;
  formed: boolean;
  /** The new 'formed_through' when a batch was formed. */
  formedThrough?: number;
}

interface BatchRow {
  seq: number;
  created_at: number;
  attempts: number;
  first_seq: number;
  last_seq: number;
}

const DROP_LOG_INTERVAL_MS = 60_000;
/**
 * After a long-lived reader let go, SQLite's automatic checkpoints did not restart the WAL here
 * (the file kept growing under steady traffic), so the queue looks at the WAL every so many acks
 * and truncates it once it is past WAL_TRUNCATE_BYTES.
 */
const CHECKPOINT_EVERY_ACKS = 64;
const WAL_TRUNCATE_BYTES = 16 * 1024 * 1024;

/**
 * The agent's durable queue: records are committed one enqueue call at a time, grouped into
 * persisted batches by lease(), and leave only on ack (or into the dead-letter table).
 */
export class Queue extends EventEmitter<QueueEvents> {
  static open(options: QueueOptions): Queue {
    validateOptions(options);
    const now = options.now ?? Date.now;
    const opened = openQueueDatabase(options.path, options.durability, options.logger, now);
    try {
      const ceiling = Queue.#reserveAbove(opened.db, options, opened.existed, now);
      return new Queue(opened.db, options, now, ceiling, opened.corruptRecovered, opened.walLostFrames);
    } catch (err) {
      opened.db.close();
      throw err;
    }
  }

  /**
   * Loads the seq ceiling kept beside the file and starts the database's sequences at it, so seqs
   * lost with a WAL are never handed out again (docs/architecture.md, "Sequence numbers").
   */
  static #reserveAbove(
    db: Database.Database,
    options: QueueOptions,
    existed: boolean,
    now: () => number,
  ): SequenceCeiling {
    const { ceiling, state } = SequenceCeiling.load(`${options.path}.seq-ceiling`);
    const inDb = lastSequences(db);
    let floor = ceiling.value;
    if (state === 'unreadable' || (state === 'missing' && existed)) {
      // Without a trustworthy ceiling, nothing bounds what the old file may have sent: start above
      // at*1000, as for a file found corrupt.
      const seed = Math.max(0, Math.floor(now())) * 1000;
      floor = { records: seed, batches: seed };
      const why =
        state === 'missing'
          ? 'is missing beside an existing queue (the first start after an upgrade, or it was deleted)'
          : 'is unreadable';
      options.logger.warn(
        { path: ceiling.file, state },
        `queue seq ceiling ${ceiling.file} ${why}; seqs restart above ${seed} so none can repeat one already sent`,
      );
    }
    const start = {
      records: Math.max(floor.records, inDb.records),
      batches: Math.max(floor.batches, inDb.batches),
    };
    if (start.records > inDb.records || start.batches > inDb.batches) raiseSequences(db, start);
    ceiling.raiseTo(start);
    return ceiling;
  }

  readonly #db: Database.Database;
  readonly #options: QueueOptions;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #corruptRecovered: boolean;
  readonly #walLostFrames: number;
  readonly #ceiling: SequenceCeiling;
  readonly #leased = new Set<number>();
  readonly #payloadWriter = new PayloadWriter();
  #closing: Promise<void> | null = null;
  #acksSinceCheckpoint = 0;

  #depth: number;
  #bytes: number;
  #batches: number;
  #deadLetter: number;
  #lastSeq: number;
  #lastBatchSeq: number;
  /** Every record with a seq above this is pending; those at or below it are in formed batches. */
  #formedThrough: number;
  #enqueued = 0;
  #acked = 0;
  readonly #dropped: Record<DropReason, number>;
  readonly #dropLog = { at: Number.NEGATIVE_INFINITY, queue_full: 0, max_age: 0 };

  readonly #stmt: ReturnType<typeof prepare>;
  readonly #enqueueTx: Database.Transaction<
    (rows: Row[], cursors: CursorUpdates | undefined, now: number) => EnqueueOutcome
  >;
  readonly #leaseTx: Database.Transaction<
    (limits: { maxRecords: number; maxBytes: number }, now: number) => LeaseOutcome
  >;
  readonly #ackTx: Database.Transaction<(batchSeq: number) => { depth: number; bytes: number }>;
  readonly #retryDeadLetterTx: Database.Transaction<
    (batchSeq: number | null, at: number) => { depth: number; bytes: number; lastSeq: number }
  >;
  readonly #purgeDeadLetterTx: Database.Transaction<(batchSeq: number | null) => number>;
  readonly #deadLetterTx: Database.Transaction<
    (batchSeq: number, reason: DeadLetterReason, now: number) => { depth: number; bytes: number }
  >;

  private constructor(
    db: Database.Database,
    options: QueueOptions,
    now: () => number,
    ceiling: SequenceCeiling,
    corruptRecovered: boolean,
    walLostFrames: number,
  ) {
    super();
    this.#db = db;
    this.#options = options;
    this.#now = now;
    this.#logger = options.logger;
    this.#ceiling = ceiling;
    this.#corruptRecovered = corruptRecovered;
    this.#walLostFrames = walLostFrames;
    this.#stmt = prepare(db);

    const totals = this.#stmt.totals.get() as { depth: number; bytes: number };
    this.#depth = totals.depth;
    this.#bytes = totals.bytes;
    this.#batches = (this.#stmt.batchCount.get() as { n: number }).n;
    this.#deadLetter = (this.#stmt.deadLetterCount.get() as { n: number }).n;
    const last = lastSequences(db);
    this.#lastSeq = last.records;
    this.#lastBatchSeq = last.batches;
    this.#formedThrough = this.#counter('formed_through');
    this.#dropped = {
      queue_full: this.#counter('dropped.queue_full'),
      max_age: this.#counter('dropped.max_age'),
      purged: this.#counter('dropped.purged'),
    };

    // Every write runs as .immediate(): BEGIN IMMEDIATE takes the write lock up front, because a
    // deferred transaction that upgrades to a write in WAL can fail with SQLITE_BUSY without waiting.
    this.#enqueueTx = db.transaction((rows: Row[], cursors: CursorUpdates | undefined, at: number) => {
      const outcome = this.#enqueueInTx(rows, at);
      if (!outcome.full && cursors !== undefined) this.#writeCursorsInTx(cursors, at);
      return outcome;
    });
    this.#leaseTx = db.transaction((limits: { maxRecords: number; maxBytes: number }, at: number) =>
      this.#leaseInTx(limits, at),
    );
    this.#ackTx = db.transaction((batchSeq: number) => this.#removeBatchInTx(batchSeq));
    this.#retryDeadLetterTx = db.transaction((batchSeq: number | null, at: number) => {
      // New seqs and enqueue time: records the collector refused were never stored, and fresh seqs
      // keep pending records above 'formed_through' in enqueue order.
      const rows = (
        this.#stmt.deadLetterRecords.all(batchSeq, batchSeq) as Array<{ bytes: number; payload: string }>
      ).map(({ bytes, payload }) => ({ payload, bytes, dropClass: dropClassOf(payload) }));
      this.#stmt.deleteDeadLetter.run(batchSeq, batchSeq);
      const bytes = rows.reduce((sum, row) => sum + row.bytes, 0);
      return { depth: rows.length, bytes, lastSeq: rows.length > 0 ? this.#insertChunksInTx(rows, at) : 0 };
    });
    this.#purgeDeadLetterTx = db.transaction((batchSeq: number | null) => {
      const purged = this.#stmt.deleteDeadLetter.run(batchSeq, batchSeq).changes;
      if (purged > 0) this.#stmt.addCounter.run('dropped.purged', purged);
      return purged;
    });
    this.#deadLetterTx = db.transaction((batchSeq: number, reason: DeadLetterReason, at: number) => {
      const batch = this.#stmt.batchBySeq.get(batchSeq) as BatchRow | undefined;
      if (batch === undefined) throw queueBatchUnknown(batchSeq);
      const chunks = this.#stmt.batchChunks.all(batch.first_seq, batch.last_seq) as ChunkRow[];
      for (const chunk of chunks) {
        for (const record of chunkRecords(chunk)) {
          this.#stmt.insertDeadLetter.run(
            record.seq,
            batchSeq,
            chunk.enqueued_at,
            record.bytes,
            record.payload,
            batch.attempts,
            reason.code,
            reason.message,
            reason.status ?? null,
            at,
          );
        }
      }
      return this.#removeBatchInTx(batchSeq);
    });

    this.#logger.debug(
      {
        path: options.path,
        depth: this.#depth,
        bytes: this.#bytes,
        batches: this.#batches,
        lastSeq: this.#lastSeq,
      },
      'queue opened',
    );
  }

  /**
   * Commits the records in one BEGIN IMMEDIATE transaction; they are durable when this returns.
   * Throws E_QUEUE_FULL (accepting none, and writing no cursor) when policy is "block" and they do
   * not fit. `cursors` are written in the same transaction, also when `records` is empty.
   */
  enqueue(records: OutpostRecord[], options: EnqueueOptions = {}): EnqueueResult {
    this.#assertOpen();
    const { cursors } = options;
    const hasCursors = cursors !== undefined && Object.keys(cursors).length > 0;
    if (records.length === 0 && !hasCursors) return { accepted: 0, dropped: 0 };
    const rows = records.map(toRow);
    const outcome = this.#storage('enqueue', () => {
      this.#ceiling.reserve('records', this.#lastSeq + rows.length);
      return this.#enqueueTx.immediate(rows, hasCursors ? cursors : undefined, this.#now());
    });
    this.#apply(outcome);
    if (outcome.lastSeq > this.#lastSeq) this.#lastSeq = outcome.lastSeq;
    if (outcome.full) {
      throw queueFull({
        bytes: this.#bytes,
        incomingBytes: rows.reduce((sum, row) => sum + row.bytes, 0),
        maxBytes: this.#options.maxBytes,
      });
    }
    this.#enqueued += outcome.accepted;
    if (outcome.accepted > 0) {
      try {
        this.emit('enqueued', outcome.accepted);
      } catch (err) {
        // The records are committed; a failing listener must not make the caller enqueue them twice.
        this.#logger.error({ err }, "a listener for the queue's 'enqueued' event threw");
      }
    }
    return { accepted: outcome.accepted, dropped: outcome.evicted };
  }

  /**
   * Returns the oldest formed batch that is not leased, or else forms a new one from the oldest
   * pending records. A formed batch keeps its seq and records until acked or dead-lettered.
   */
  lease(limits: { maxRecords: number; maxBytes: number }): Batch | null {
    this.#assertOpen();
    if (!(limits.maxRecords >= 1) || !(limits.maxBytes > 0)) {
      throw queueBadOptions(
        `lease limits need maxRecords >= 1 and maxBytes > 0, got ${JSON.stringify(limits)}`,
      );
    }
    // A formed batch's seq becomes an Idempotency-Key as soon as it is sent. The commit needs no
    // fsync of its own for that: if a power loss takes it back, the seq ceiling (fsynced first)
    // makes the records' next batch number above it, and the collector skips their record seqs.
    const outcome = this.#storage('lease', () => {
      this.#ceiling.reserve('batches', this.#lastBatchSeq + 1);
      return this.#leaseTx.immediate(limits, this.#now());
    });
    this.#apply(outcome);
    if (outcome.formed) {
      this.#batches++;
      this.#lastBatchSeq = outcome.batch!.seq;
      this.#formedThrough = outcome.formedThrough!;
    }
    if (outcome.batch !== null) this.#leased.add(outcome.batch.seq);
    return outcome.batch;
  }

  /**
   * The collector stored the batch: delete it and its records in one transaction. Any formed batch
   * can be acked, leased or not (a send that outlived a close/reopen still counts).
   */
  ack(batchSeq: number): void {
    this.#assertOpen();
    const removed = this.#storage('ack', () => this.#ackTx.immediate(batchSeq));
    this.#afterRemove(batchSeq, removed);
    this.#acked += removed.depth;
    if (++this.#acksSinceCheckpoint >= CHECKPOINT_EVERY_ACKS) this.#checkpoint();
  }

  /** The send failed and will be retried: the batch stays formed, with the same seq and records. */
  release(batchSeq: number): void {
    this.#assertOpen();
    if (!this.#leased.has(batchSeq)) throw queueBatchNotLeased(batchSeq);
    this.#stmt.bumpAttempts.run(batchSeq);
    this.#leased.delete(batchSeq);
  }

  /** The collector refused the batch for good: move its records to the dead-letter table. */
  deadLetter(batchSeq: number, reason: DeadLetterReason): void {
    this.#assertOpen();
    const removed = this.#storage('dead-letter', () =>
      this.#deadLetterTx.immediate(batchSeq, reason, this.#now()),
    );
    this.#afterRemove(batchSeq, removed);
    this.#deadLetter += removed.depth;
    this.#logger.warn(
      { batchSeq, records: removed.depth, code: reason.code, status: reason.status },
      `queue batch ${batchSeq} moved to the dead-letter table: ${reason.message}`,
    );
  }

  /** Dead-lettered batches, oldest first, each with up to `sample` of its records. */
  deadLetters(options: { limit?: number; sample?: number } = {}): DeadLetterBatch[] {
    this.#assertOpen();
    const limit = options.limit ?? 100;
    const sampleSize = options.sample ?? 3;
    const rows = this.#stmt.deadLetterBatches.all(limit) as Array<{
      batch_seq: number;
      records: number;
      bytes: number;
      attempts: number;
      code: string;
      message: string;
      status: number | null;
      dead_at: number;
    }>;
    return rows.map((row) => ({
      batchSeq: row.batch_seq,
      records: row.records,
      bytes: row.bytes,
      attempts: row.attempts,
      code: row.code,
      message: row.message,
      status: row.status,
      deadAt: row.dead_at,
      sample: (
        this.#stmt.deadLetterSample.all(row.batch_seq, sampleSize) as Array<{ seq: number; payload: string }>
      ).map((r) => ({ seq: r.seq, ...(JSON.parse(r.payload) as OutpostRecord) })),
    }));
  }

  /**
   * Puts dead-lettered records (one batch, or all) back as pending, with their original seqs, so
   * they are sent again in a new batch; for after the cause of the refusal was fixed.
   */
  retryDeadLetter(batchSeq?: number): number {
    this.#assertOpen();
    const moved = this.#storage('dead-letter retry', () => {
      const waiting = this.#stmt.deadLetterTotals.get(batchSeq ?? null, batchSeq ?? null) as {
        depth: number;
      };
      this.#ceiling.reserve('records', this.#lastSeq + waiting.depth);
      return this.#retryDeadLetterTx.immediate(batchSeq ?? null, this.#now());
    });
    if (moved.lastSeq > this.#lastSeq) this.#lastSeq = moved.lastSeq;
    this.#deadLetter -= moved.depth;
    this.#depth += moved.depth;
    this.#bytes += moved.bytes;
    if (moved.depth > 0) {
      this.#logger.info({ batchSeq, records: moved.depth }, 'dead-lettered records queued again');
      this.emit('enqueued', moved.depth);
    }
    return moved.depth;
  }

  /** Deletes dead-lettered records (one batch, or all) for good; counted as dropped 'purged'. */
  purgeDeadLetter(batchSeq?: number): number {
    this.#assertOpen();
    const purged = this.#storage('dead-letter purge', () =>
      this.#purgeDeadLetterTx.immediate(batchSeq ?? null),
    );
    this.#deadLetter -= purged;
    this.#dropped.purged += purged;
    if (purged > 0) this.#logger.warn({ batchSeq, records: purged }, 'dead-lettered records purged');
    return purged;
  }

  /** The position last committed under `key`, or null. */
  cursor(key: string): string | null {
    this.#assertOpen();
    return (this.#stmt.cursor.get(key) as { value: string } | undefined)?.value ?? null;
  }

  /** Every committed cursor whose key starts with `prefix`. */
  cursors(prefix = ''): Map<string, string> {
    this.#assertOpen();
    const rows = this.#stmt.cursorsByPrefix.all(prefix, `${prefix}\uffff`) as Array<{
      key: string;
      value: string;
    }>;
    return new Map(rows.map((row) => [row.key, row.value]));
  }

  stats(): QueueStats {
    this.#assertOpen();
    const oldest = this.#stmt.oldest.get() as { enqueued_at: number } | undefined;
    return {
      depth: this.#depth,
      bytes: this.#bytes,
      batches: this.#batches,
      leased: this.#leased.size,
      oldestTs: oldest?.enqueued_at ?? null,
      enqueued: this.#enqueued,
      acked: this.#acked,
      dropped: { ...this.#dropped },
      deadLetter: this.#deadLetter,
      lastSeq: this.#lastSeq,
      corruptRecovered: this.#corruptRecovered,
      walLostFrames: this.#walLostFrames,
    };
  }

  /** Releases leases, checkpoints the WAL into the main file and closes it. Safe to call twice. */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closing = new Promise<void>((resolve, reject) => {
      this.#leased.clear();
      try {
        let checkpointed = false;
        try {
          const [result] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
          checkpointed = result?.busy === 0;
        } catch (err) {
          // Everything is committed already; the WAL is replayed on the next open.
          this.#logger.warn({ err, path: this.#options.path }, 'queue WAL checkpoint on close failed');
        }
        const last = lastSequences(this.#db);
        this.#db.close();
        // Only once the main file holds every seq may the ceiling come down to the last ones used.
        if (checkpointed) {
          try {
            this.#ceiling.settle(last);
          } catch (err) {
            this.#logger.warn({ err, path: this.#ceiling.file }, 'queue seq ceiling not settled on close');
          }
        }
        resolve();
      } catch (err) {
        reject(err);
      }
    });
    return this.#closing;
  }

  #enqueueInTx(rows: Row[], now: number): EnqueueOutcome {
    const { maxBytes, policy } = this.#options;
    const expired = this.#evictExpiredInTx(now);
    const outcome: EnqueueOutcome = {
      ...expired,
      accepted: 0,
      evicted: 0,
      lastSeq: 0,
      full: false,
    };
    const stored = this.#bytes + expired.bytes;
    let over = stored + rows.reduce((sum, row) => sum + row.bytes, 0) - maxBytes;
    if (over > 0 && policy === 'block' && this.#depth + expired.depth > 0) {
      // Only an empty queue takes an oversized enqueue, so "block" can always make progress.
      outcome.full = true;
      this.#countDropsInTx(outcome);
      return outcome;
    }
    const keep = rows.map(() => true);
    if (over > 0 && policy === 'drop_oldest') {
      // Stored records of a class go before new ones of that class: new data is worth more than
      // old data, but a class never outranks a higher one.
      for (const dropClass of EVICTABLE_CLASSES) {
        if (over <= 0) break;
        over = this.#evictClassInTx(dropClass, over, outcome);
        rows.forEach((row, i) => {
          if (over > 0 && row.dropClass === dropClass) {
            over -= row.bytes;
            keep[i] = false;
          }
        });
      }
      outcome.queueFull += outcome.evicted + keep.filter((k) => !k).length;
    }
    const kept = keep.every(Boolean) ? rows : rows.filter((_, i) => keep[i]);
    if (kept.length > 0) outcome.lastSeq = this.#insertChunksInTx(kept, now);
    for (const row of kept) outcome.bytes += row.bytes;
    outcome.accepted += kept.length;
    outcome.depth += kept.length;
    this.#countDropsInTx(outcome);
    return outcome;
  }

  /**
   * Stores `rows` under the next seqs in chunks of up to CHUNK_MAX_RECORDS records and
   * CHUNK_MAX_BYTES bytes; returns the last seq. The in-memory #lastSeq moves only after the commit.
   */
  #insertChunksInTx(rows: Row[], now: number): number {
    const maxRecords = this.#options.chunkMaxRecords ?? CHUNK_MAX_RECORDS;
    let seq = this.#lastSeq;
    for (let from = 0; from < rows.length; ) {
      let to = from;
      let bytes = 0;
      let classes = 0;
      do {
        const row = rows[to]!;
        bytes += row.bytes;
        classes |= 1 << row.dropClass;
        to++;
      } while (to < rows.length && to - from < maxRecords && bytes + rows[to]!.bytes <= CHUNK_MAX_BYTES);
      this.#stmt.insertChunk.run(
        seq + to - from,
        seq + 1,
        now,
        to - from,
        bytes,
        classes,
        null,
        this.#payloadWriter.write(rows, from, to),
      );
      seq += to - from;
      from = to;
    }
    return seq;
  }

  /**
   * Evicts pending records of one class, oldest first, until `over` bytes are gone; returns what is
   * still over. Chunks left with other records are stored again under their remaining seqs.
   */
  #evictClassInTx(dropClass: number, over: number, outcome: EnqueueOutcome): number {
    const bit = 1 << dropClass;
    const changed: Array<{ chunk: ChunkRow; kept: ChunkRecord[] }> = [];
    for (const chunk of this.#stmt.pendingChunksOfClass.iterate(
      this.#formedThrough,
      bit,
    ) as Iterable<ChunkRow>) {
      if (over <= 0) break;
      if (chunk.classes === bit && chunk.bytes <= over) {
        // Every record of the chunk goes: no need to take it apart.
        over -= chunk.bytes;
        outcome.evicted += chunk.records;
        outcome.depth -= chunk.records;
        outcome.bytes -= chunk.bytes;
        changed.push({ chunk, kept: [] });
        continue;
      }
      const kept: ChunkRecord[] = [];
      for (const record of chunkRecords(chunk)) {
        if (over > 0 && record.dropClass === dropClass) {
          over -= record.bytes;
          outcome.evicted++;
          outcome.depth--;
          outcome.bytes -= record.bytes;
        } else {
          kept.push(record);
        }
      }
      changed.push({ chunk, kept });
    }
    // Writes wait for the iterator to close: a connection runs one statement at a time.
    for (const { chunk, kept } of changed) {
      this.#stmt.deleteChunk.run(chunk.last_seq);
      if (kept.length > 0) this.#storeChunk(toChunk(kept, chunk.enqueued_at));
    }
    return over;
  }

  #storeChunk(chunk: ChunkRow): void {
    this.#stmt.insertChunk.run(
      chunk.last_seq,
      chunk.first_seq,
      chunk.enqueued_at,
      chunk.records,
      chunk.bytes,
      chunk.classes,
      chunk.seqs,
      chunk.payload,
    );
  }

  #writeCursorsInTx(cursors: CursorUpdates, now: number): void {
    for (const [key, value] of Object.entries(cursors)) {
      if (value === null) this.#stmt.deleteCursor.run(key);
      else this.#stmt.upsertCursor.run(key, value, now);
    }
  }

  #leaseInTx(limits: { maxRecords: number; maxBytes: number }, now: number): LeaseOutcome {
    const outcome: LeaseOutcome = { ...this.#evictExpiredInTx(now), batch: null, formed: false };
    this.#countDropsInTx(outcome);
    for (const row of this.#stmt.batches.iterate() as Iterable<BatchRow>) {
      if (this.#leased.has(row.seq)) continue;
      const chunks = this.#stmt.batchChunks.all(row.first_seq, row.last_seq) as ChunkRow[];
      outcome.batch = toBatch(row.seq, row.created_at, row.attempts, contentOf(chunks));
      break;
    }
    if (outcome.batch === null) {
      const content = this.#formInTx(Math.floor(limits.maxRecords), limits.maxBytes);
      if (content === null) return outcome;
      const first = content.seqs[0]!;
      const last = content.seqs[content.seqs.length - 1]!;
      const seq = Number(this.#stmt.insertBatch.run(now, first, last).lastInsertRowid);
      this.#stmt.setCounter.run('formed_through', last);
      outcome.formedThrough = last;
      outcome.batch = toBatch(seq, now, 0, content);
      outcome.formed = true;
    }
    return outcome;
  }

  /**
   * Takes the oldest pending records, record by record within the limits (the first one always),
   * as whole chunks; the chunk the limits end inside is split, so that every chunk stays wholly
   * pending or wholly in one batch.
   */
  #formInTx(maxRecords: number, maxBytes: number): BatchContent | null {
    // The batch's own arrays are built once every chunk is read: reading a chunk allocates its
    // payload, which can start a scavenge, and what the batch held by then would survive it.
    const wholes: ChunkRow[] = [];
    let count = 0;
    let taken = 0;
    let split: ChunkSplit | null = null;
    for (const chunk of this.#stmt.pendingChunks.iterate(this.#formedThrough) as Iterable<ChunkRow>) {
      if (count >= maxRecords) {
        // Read only to find the batch full: its bytes need not wait for a garbage collection.
        freePayload(chunk.payload);
        break;
      }
      const whole =
        count + chunk.records <= maxRecords &&
        (taken + chunk.bytes <= maxBytes || (count === 0 && chunk.records === 1));
      if (whole) {
        wholes.push(chunk);
        count += chunk.records;
        taken += chunk.bytes;
        continue;
      }
      let n = count;
      let bytes = taken;
      split = splitChunk(chunk, (recordBytes) => {
        if (n >= maxRecords || (n > 0 && bytes + recordBytes > maxBytes)) return false;
        n++;
        bytes += recordBytes;
        return true;
      });
      // Null: every record fits after all (the first one over the byte limit alone), or none does.
      if (split === null && n > count) wholes.push(chunk);
      else if (split === null) freePayload(chunk.payload);
      break;
    }
    const content = contentOf(wholes);
    if (split !== null) {
      const { head, tail, headSeqs } = split;
      this.#stmt.deleteChunk.run(tail.last_seq);
      this.#storeChunk(head);
      this.#storeChunk(tail);
      for (const seq of headSeqs) content.seqs.push(seq);
      content.payloads.push(head.payload);
      content.read.push(split.read);
      content.bytes += head.bytes;
    }
    return content.seqs.length === 0 ? null : content;
  }

  #removeBatchInTx(batchSeq: number): { depth: number; bytes: number } {
    const batch = this.#stmt.batchBySeq.get(batchSeq) as BatchRow | undefined;
    if (batch === undefined) throw queueBatchUnknown(batchSeq);
    const totals = this.#stmt.batchTotals.get(batch.first_seq, batch.last_seq) as {
      depth: number;
      bytes: number;
    };
    this.#stmt.deleteBatchChunks.run(batch.first_seq, batch.last_seq);
    this.#stmt.deleteBatch.run(batchSeq);
    return totals;
  }

  #evictExpiredInTx(now: number): Delta {
    const delta: Delta = { depth: 0, bytes: 0, queueFull: 0, maxAge: 0 };
    const { maxAgeMs } = this.#options;
    if (maxAgeMs === undefined) return delta;
    const cutoff = now - maxAgeMs;
    // Records enqueue in seq order, so the oldest pending one says whether any expired: the full
    // look below runs only when one did. A chunk's records share their enqueue time.
    const oldest = this.#stmt.oldestPending.get(this.#formedThrough) as { enqueued_at: number } | undefined;
    if (oldest === undefined || oldest.enqueued_at >= cutoff) return delta;
    const expired = this.#stmt.expiredTotals.get(this.#formedThrough, cutoff) as {
      depth: number;
      bytes: number;
    };
    if (expired.depth === 0) return delta;
    this.#stmt.deleteExpired.run(this.#formedThrough, cutoff);
    delta.depth -= expired.depth;
    delta.bytes -= expired.bytes;
    delta.maxAge += expired.depth;
    return delta;
  }

  #countDropsInTx(delta: Delta): void {
    if (delta.queueFull > 0) this.#stmt.addCounter.run('dropped.queue_full', delta.queueFull);
    if (delta.maxAge > 0) this.#stmt.addCounter.run('dropped.max_age', delta.maxAge);
  }

  // In-memory totals change only after a commit, so a rolled-back transaction leaves them right.
  #apply(delta: Delta): void {
    this.#depth += delta.depth;
    this.#bytes += delta.bytes;
    this.#dropped.queue_full += delta.queueFull;
    this.#dropped.max_age += delta.maxAge;
    if (delta.queueFull > 0 || delta.maxAge > 0) this.#logDrops(delta);
  }

  #afterRemove(batchSeq: number, removed: { depth: number; bytes: number }): void {
    this.#leased.delete(batchSeq);
    this.#batches--;
    this.#depth -= removed.depth;
    this.#bytes -= removed.bytes;
  }

  // Drops come in bursts while the collector is away; one line a minute says enough.
  #logDrops(delta: Delta): void {
    const log = this.#dropLog;
    log.queue_full += delta.queueFull;
    log.max_age += delta.maxAge;
    const now = this.#now();
    if (now - log.at < DROP_LOG_INTERVAL_MS) return;
    this.#logger.warn(
      {
        dropped: { queue_full: log.queue_full, max_age: log.max_age },
        bytes: this.#bytes,
        maxBytes: this.#options.maxBytes,
      },
      'queue dropped records (queue_full: over max bytes; max_age: older than max age)',
    );
    log.at = now;
    log.queue_full = 0;
    log.max_age = 0;
  }

  #counter(name: string): number {
    return (this.#stmt.counter.get(name) as { value: number } | undefined)?.value ?? 0;
  }

  // With busy_timeout 0 the TRUNCATE checkpoint gives up at once while a reader still holds an old
  // snapshot, instead of blocking the event loop; the next look tries again.
  #checkpoint(): void {
    this.#acksSinceCheckpoint = 0;
    let walBytes: number;
    try {
      walBytes = fs.statSync(`${this.#options.path}-wal`).size;
    } catch {
      return;
    }
    if (walBytes < WAL_TRUNCATE_BYTES) return;
    try {
      this.#stmt.busyTimeoutZero.run();
      this.#stmt.checkpointTruncate.get();
    } catch (err) {
      this.#logger.debug({ err, walBytes }, 'queue WAL checkpoint failed; the next one retries');
    } finally {
      this.#stmt.busyTimeoutDefault.run();
    }
  }

  /** Maps SQLite's disk-full and I/O failures to errors that say what happened and what to do. */
  #storage<T>(operation: string, run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (err instanceof Database.SqliteError) {
        if (err.code === 'SQLITE_FULL') throw queueDiskFull(this.#options.path, operation, err);
        if (err.code.startsWith('SQLITE_IOERR')) throw queueIoError(this.#options.path, operation, err);
      }
      // The seq ceiling file is written with plain fs calls.
      const errno =
        (err as NodeJS.ErrnoException | null)?.syscall === undefined
          ? undefined
          : (err as NodeJS.ErrnoException).code;
      if (errno === 'ENOSPC' || errno === 'EDQUOT') throw queueDiskFull(this.#options.path, operation, err);
      if (errno !== undefined) throw queueIoError(this.#options.path, operation, err);
      throw err;
    }
  }

  #assertOpen(): void {
    if (this.#closing !== null) throw queueClosed();
  }
}

// Statements are prepared once and live as long as the queue: lease runs often, and db.pragma()
// would prepare a throwaway statement on every call.
function prepare(db: Database.Database) {
  const chunkColumns = 'last_seq, first_seq, enqueued_at, records, bytes, classes, seqs, payload';
  return {
    checkpointTruncate: db.prepare('PRAGMA wal_checkpoint(TRUNCATE)'),
    busyTimeoutZero: db.prepare('PRAGMA busy_timeout = 0'),
    busyTimeoutDefault: db.prepare(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`),
    totals: db.prepare(
      'SELECT coalesce(sum(records), 0) AS depth, coalesce(sum(bytes), 0) AS bytes FROM chunks',
    ),
    batchCount: db.prepare('SELECT count(*) AS n FROM batches'),
    deadLetterCount: db.prepare('SELECT count(*) AS n FROM dead_letter'),
    counter: db.prepare('SELECT value FROM counters WHERE name = ?'),
    addCounter: db.prepare(
      'INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value',
    ),
    oldest: db.prepare('SELECT enqueued_at FROM chunks ORDER BY last_seq LIMIT 1'),
    insertChunk: db.prepare(`INSERT INTO chunks(${chunkColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    deleteChunk: db.prepare('DELETE FROM chunks WHERE last_seq = ?'),
    // Pending chunks are those above 'formed_through'; a batch is the seq range [first_seq, last_seq].
    pendingChunks: db.prepare(`SELECT ${chunkColumns} FROM chunks WHERE last_seq > ? ORDER BY last_seq`),
    pendingChunksOfClass: db.prepare(
      `SELECT ${chunkColumns} FROM chunks WHERE last_seq > ? AND (classes & ?) != 0 ORDER BY last_seq`,
    ),
    oldestPending: db.prepare('SELECT enqueued_at FROM chunks WHERE last_seq > ? ORDER BY last_seq LIMIT 1'),
    expiredTotals: db.prepare(
      'SELECT coalesce(sum(records), 0) AS depth, coalesce(sum(bytes), 0) AS bytes FROM chunks WHERE last_seq > ? AND enqueued_at < ?',
    ),
    deleteExpired: db.prepare('DELETE FROM chunks WHERE last_seq > ? AND enqueued_at < ?'),
    batches: db.prepare('SELECT seq, created_at, attempts, first_seq, last_seq FROM batches ORDER BY seq'),
    batchBySeq: db.prepare(
      'SELECT seq, created_at, attempts, first_seq, last_seq FROM batches WHERE seq = ?',
    ),
    insertBatch: db.prepare('INSERT INTO batches(created_at, first_seq, last_seq) VALUES (?, ?, ?)'),
    setCounter: db.prepare(
      'INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value',
    ),
    batchChunks: db.prepare(
      `SELECT ${chunkColumns} FROM chunks WHERE last_seq BETWEEN ? AND ? ORDER BY last_seq`,
    ),
    batchTotals: db.prepare(
      'SELECT coalesce(sum(records), 0) AS depth, coalesce(sum(bytes), 0) AS bytes FROM chunks WHERE last_seq BETWEEN ? AND ?',
    ),
    deleteBatchChunks: db.prepare('DELETE FROM chunks WHERE last_seq BETWEEN ? AND ?'),
    deleteBatch: db.prepare('DELETE FROM batches WHERE seq = ?'),
    bumpAttempts: db.prepare('UPDATE batches SET attempts = attempts + 1 WHERE seq = ?'),
    cursor: db.prepare('SELECT value FROM cursors WHERE key = ?'),
    cursorsByPrefix: db.prepare('SELECT key, value FROM cursors WHERE key >= ? AND key < ? ORDER BY key'),
    upsertCursor: db.prepare(
      'INSERT INTO cursors(key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    ),
    deleteCursor: db.prepare('DELETE FROM cursors WHERE key = ?'),
    deadLetterBatches: db.prepare(
      `SELECT batch_seq, count(*) AS records, sum(bytes) AS bytes, max(attempts) AS attempts,
              max(code) AS code, max(message) AS message, max(status) AS status, max(dead_at) AS dead_at
         FROM dead_letter GROUP BY batch_seq ORDER BY batch_seq LIMIT ?`,
    ),
    deadLetterSample: db.prepare(
      'SELECT seq, payload FROM dead_letter WHERE batch_seq = ? ORDER BY seq LIMIT ?',
    ),
    deadLetterTotals: db.prepare(
      'SELECT count(*) AS depth, coalesce(sum(bytes), 0) AS bytes FROM dead_letter WHERE (? IS NULL OR batch_seq = ?)',
    ),
    deadLetterRecords: db.prepare(
      'SELECT bytes, payload FROM dead_letter WHERE (? IS NULL OR batch_seq = ?) ORDER BY seq',
    ),
    deleteDeadLetter: db.prepare('DELETE FROM dead_letter WHERE (? IS NULL OR batch_seq = ?)'),
    // Dead letters stay one row per record: they are few, and listed and sampled by record.
    insertDeadLetter: db.prepare(
      `INSERT INTO dead_letter(seq, batch_seq, enqueued_at, bytes, payload, attempts, code, message, status, dead_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}

/** A whole chunk's seqs and payload, appended to a batch being read or formed. */
function appendChunk(content: BatchContent, chunk: ChunkRow): void {
  if (chunk.seqs === null) {
    for (let seq = chunk.first_seq; seq <= chunk.last_seq; seq++) content.seqs.push(seq);
  } else {
    for (const seq of chunkSeqs(chunk)) content.seqs.push(seq);
  }
  content.payloads.push(chunk.payload);
  content.read.push(chunk.payload);
  content.bytes += chunk.bytes;
}

function contentOf(chunks: ChunkRow[]): BatchContent {
  const content: BatchContent = { seqs: [], payloads: [], bytes: 0, read: [] };
  for (const chunk of chunks) appendChunk(content, chunk);
  return content;
}

/**
 * A leased batch. `records` are parsed on first use only: the sender copies the `stored` bytes,
 * each record's seq put in front, into the request body without parsing or serialising the records
 * again, and without making strings of them. `stored` is not enumerable, so a batch compares (and
 * prints) as its fields.
 */
function toBatch(seq: number, createdAt: number, attempts: number, content: BatchContent): Batch {
  const { seqs, payloads } = content;
  const batch = { seq, bytes: content.bytes, createdAt, attempts } as Batch;
  let released = false;
  Object.defineProperty(batch, 'records', {
    enumerable: true,
    configurable: true,
    get(): QueuedRecord[] {
      if (released) throw new Error(`the records of batch ${seq} were released`);
      const records = payloadTexts(payloads).map((payload, i) => ({
        seq: seqs[i]!,
        ...(JSON.parse(payload) as OutpostRecord),
      }));
      Object.defineProperty(batch, 'records', { value: records, enumerable: true, writable: true });
      return records;
    },
  });
  const stored: StoredRecords = {
    seqs,
    payloads,
    release() {
      if (released) return;
      released = true;
      for (const payload of content.read) freePayload(payload);
    },
  };
  Object.defineProperty(batch, 'stored', { value: stored, enumerable: false });
  return batch;
}

// Only the record model's fields are stored, in a fixed order, so a payload's bytes do not depend
// on extra properties a caller happened to carry (a re-enqueued QueuedRecord's seq, for one).
function toRow(record: OutpostRecord): Row {
  const canonical: Record<string, unknown> = { kind: record.kind, ts: record.ts, name: record.name };
  if (record.value !== undefined) canonical.value = record.value;
  if (record.unit !== undefined) canonical.unit = record.unit;
  if (record.body !== undefined) canonical.body = record.body;
  canonical.attrs = record.attrs;
  canonical.source = record.source;
  const payload = JSON.stringify(canonical);
  return {
    payload,
    bytes: Buffer.byteLength(payload, 'utf8'),
    dropClass: DROP_CLASS[record.kind] ?? DROP_CLASS.metric,
  };
}

function validateOptions(options: QueueOptions): void {
  if (typeof options.path !== 'string' || options.path === '')
    throw queueBadOptions('path must be a file path');
  if (!(options.maxBytes > 0)) throw queueBadOptions(`maxBytes must be > 0, got ${options.maxBytes}`);
  if (options.maxAgeMs !== undefined && !(options.maxAgeMs > 0)) {
    throw queueBadOptions(`maxAgeMs must be > 0 when set, got ${options.maxAgeMs}`);
  }
  const { chunkMaxRecords } = options;
  if (chunkMaxRecords !== undefined && !(Number.isInteger(chunkMaxRecords) && chunkMaxRecords >= 1)) {
    throw queueBadOptions(`chunkMaxRecords must be an integer >= 1 when set, got ${chunkMaxRecords}`);
  }
  if (options.policy !== 'drop_oldest' && options.policy !== 'block') {
    throw queueBadOptions(`policy must be "drop_oldest" or "block", got ${JSON.stringify(options.policy)}`);
  }
  if (options.durability !== 'normal' && options.durability !== 'full') {
    throw queueBadOptions(`durability must be "normal" or "full", got ${JSON.stringify(options.durability)}`);
  }
}
