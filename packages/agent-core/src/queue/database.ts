import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { OutpostError } from '../errors.ts';
import { queueCorrupt, queueSchemaTooNew } from './errors.ts';

export const SCHEMA_VERSION = 6;

// drop_class orders eviction under drop_oldest: lower classes go first, ALERT never.
export const DROP_CLASS = { log: 0, metric: 1, event: 1, alert: 2 } as const;
export const EVICTABLE_CLASSES = [DROP_CLASS.log, DROP_CLASS.metric] as const;

const SCHEMA = `
CREATE TABLE batches (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE records (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_seq   INTEGER REFERENCES batches(seq),
  enqueued_at INTEGER NOT NULL,
  drop_class  INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  payload     TEXT NOT NULL
) STRICT;
CREATE INDEX records_by_batch ON records(batch_seq, seq);
CREATE TABLE dead_letter (
  seq         INTEGER PRIMARY KEY,
  batch_seq   INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  payload     TEXT NOT NULL,
  attempts    INTEGER NOT NULL,
  code        TEXT NOT NULL,
  message     TEXT NOT NULL,
  status      INTEGER,
  dead_at     INTEGER NOT NULL
) STRICT;
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;

// Version 2: input positions (e.g. log file offsets) committed with the records read up to them.
const CURSORS = `
CREATE TABLE cursors (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;

// Version 3: the partial indexes on pending records go. Each cost an insert and a delete per record
// (about a fifth of the queue's CPU); eviction by class and by age walk the pending records in seq
// order instead, which they only do once the queue is full or its oldest record expired.
const DROP_PENDING_INDEXES = `
DROP INDEX IF EXISTS records_pending_by_class;
DROP INDEX IF EXISTS records_pending_by_age;
`;

// Version 4: a batch is the range of record seqs [first_seq, last_seq] it was formed from, and every
// record above the counter 'formed_through' is pending. Forming a batch no longer rewrites each of
// its records (and an index entry for each), which was a third of the queue's writes. Batches
// formed by an older version are dissolved: their records are pending again under their own seqs,
// and go out in new batches, which the collector stores once by (agent, record seq). The column
// records.batch_seq stays, always NULL (dropping it would rebuild the table); its foreign key still
// makes every batch delete look for referencing records, so an index of the non-NULL ones (always
// empty, free to keep) answers that instead of a scan of the whole table.
const BATCH_RANGES = `
ALTER TABLE batches ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
UPDATE records SET batch_seq = NULL WHERE batch_seq IS NOT NULL;
DELETE FROM batches;
DELETE FROM counters WHERE name = 'formed_through';
DROP INDEX IF EXISTS records_by_batch;
CREATE INDEX IF NOT EXISTS records_batch_fk ON records(batch_seq) WHERE batch_seq IS NOT NULL;
`;

// Version 5: records are stored in chunks, one row for up to CHUNK_MAX_RECORDS records of one
// enqueue call, so SQLite inserts and deletes a row per chunk instead of per record (its per-row
// work was three quarters of the queue's CPU). A chunk is keyed by its last record seq (AUTOINCREMENT
// keeps the highest seq ever stored in sqlite_sequence under 'chunks'), holds its records' JSON
// texts joined by '\n' (JSON.stringify never writes a raw newline), their summed bytes, a bitmask
// of their drop classes, and their seqs: first_seq..last_seq, or listed in `seqs` once eviction
// took some out of the middle. Every chunk is wholly pending or wholly inside one batch's range:
// forming a batch that ends inside a chunk splits it. Version 4 records become one-record chunks
// under their own seqs, so pending records, formed batches and their Idempotency-Keys carry over.
const CHUNKS = `
CREATE TABLE chunks (
  last_seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  first_seq   INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  records     INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  classes     INTEGER NOT NULL,
  seqs        TEXT,
  payload     TEXT NOT NULL
) STRICT;
INSERT INTO chunks(last_seq, first_seq, enqueued_at, records, bytes, classes, seqs, payload)
  SELECT seq, seq, enqueued_at, 1, bytes, 1 << drop_class, NULL, payload FROM records ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'chunks';
INSERT INTO sqlite_sequence(name, seq) SELECT 'chunks', seq FROM sqlite_sequence WHERE name = 'records';
DROP TABLE records;
`;

// Version 6: chunk payloads are BLOBs, the records' JSON as UTF-8, which SQLite hands back as a
// Buffer off V8's heap; as TEXT each read made a string of up to 256 KiB, a large object that V8
// promotes whole to its old generation (docs/operations.md, "Memory under load"). A STRICT table's
// column type cannot change, so the table is copied once, keeping its highest seq ever stored.
const BLOB_PAYLOADS = `
CREATE TABLE chunks_v6 (
  last_seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  first_seq   INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  records     INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  classes     INTEGER NOT NULL,
  seqs        TEXT,
  payload     BLOB NOT NULL
) STRICT;
INSERT INTO chunks_v6(last_seq, first_seq, enqueued_at, records, bytes, classes, seqs, payload)
  SELECT last_seq, first_seq, enqueued_at, records, bytes, classes, seqs, CAST(payload AS BLOB)
    FROM chunks ORDER BY last_seq;
DELETE FROM sqlite_sequence WHERE name = 'chunks_v6';
INSERT INTO sqlite_sequence(name, seq) SELECT 'chunks_v6', seq FROM sqlite_sequence WHERE name = 'chunks';
DROP TABLE chunks;
ALTER TABLE chunks_v6 RENAME TO chunks;
`;

const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
const PAGE_SIZE = 16 * 1024;
/**
 * better-sqlite3 builds SQLite with a 16 MB page cache per connection, and under a steady stream
 * of records the queue filled it (chunks are written once, read once and deleted). Pages past
 * this come back from the WAL or the file through the OS page cache.
 */
const CACHE_KIB = 2048;
export const BUSY_TIMEOUT_MS = 5000;

export interface OpenedDatabase {
  db: Database.Database;
  corruptRecovered: boolean;
  /** False when this open created the file. */
  existed: boolean;
  /** Committed WAL frames that were missing at open (the -wal deleted or cut short after a crash). */
  walLostFrames: number;
}

/**
 * Opens (creating if needed) the queue file. A file that SQLite cannot read as a database, or that
 * fails quick_check, is renamed to `<file>.corrupt-<ms>` with its -wal/-shm and a fresh queue is
 * started; a second failure throws instead of looping.
 */
export function openQueueDatabase(
  file: string,
  durability: 'normal' | 'full',
  logger: Logger,
  now: () => number,
): OpenedDatabase {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  // The collector may already hold batches and records numbered by a file that is now lost;
  // starting both sequences above at*1000 keeps them from being reused (a reused Idempotency-Key
  // turns a fresh batch into a 409 conflict) unless the old file averaged >1000 records per ms.
  const seedAbove = (at: number) => Math.max(0, Math.floor(at)) * 1000;
  // SQLite writes page 1 as soon as WAL mode is set, so an empty file was cut short from outside.
  const existed = fs.existsSync(file);
  const truncatedToNothing = existed && fs.statSync(file).size === 0;
  const walLostFrames = existed ? lostWalFrames(file) : 0;
  if (walLostFrames > 0) {
    logger.warn(
      { path: file, walLostFrames },
      `queue WAL ${file}-wal is missing or cut short: ${walLostFrames} committed frames are lost with it. ` +
        'Records enqueued since the last checkpoint are gone, and batches acked since then are sent again ' +
        '(the collector answers those from its idempotency store); new seqs start above the reserved ceiling',
    );
  }
  try {
    const db = openAndMigrate(file, durability, truncatedToNothing ? seedAbove(now()) : 0);
    if (truncatedToNothing) {
      logger.warn(
        { path: file },
        `queue file ${file} was empty; started an empty queue with fresh sequences`,
      );
    }
    return { db, corruptRecovered: false, existed, walLostFrames };
  } catch (err) {
    if (!isCorruption(err)) throw err;
    const at = now();
    const movedTo = moveAside(file, at);
    logger.warn(
      { path: file, movedTo, err },
      `queue file ${file} is corrupt; moved it to ${movedTo} and started an empty queue`,
    );
    try {
      return {
        db: openAndMigrate(file, durability, seedAbove(at)),
        corruptRecovered: true,
        existed,
        walLostFrames,
      };
    } catch (again) {
      if (again instanceof OutpostError) throw again;
      throw queueCorrupt(file, `still unreadable after moving the old file to ${movedTo}`, again);
    }
  }
}

function openAndMigrate(file: string, durability: 'normal' | 'full', seedSeq: number): Database.Database {
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Takes effect only when this open creates the file (an existing one keeps its page size): a
    // chunk of records spans fewer overflow pages, which made storing one about a quarter cheaper.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    db.pragma('journal_mode = WAL');
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw queueCorrupt(file, `quick_check: ${String(check)}`);
    db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    db.pragma('foreign_keys = ON');
    migrate(db, file, seedSeq);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Database.Database, file: string, seedSeq: number): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) throw queueSchemaTooNew(file, version, SCHEMA_VERSION);
  db.transaction(() => {
    if (version < 1) db.exec(SCHEMA);
    if (version < 2) db.exec(CURSORS);
    if (version < 3) db.exec(DROP_PENDING_INDEXES);
    if (version < 4) db.exec(BATCH_RANGES);
    if (version < 5) db.exec(CHUNKS);
    if (version < 6) db.exec(BLOB_PAYLOADS);
    if (version < 1 && seedSeq > 0) {
      db.prepare("INSERT INTO sqlite_sequence(name, seq) VALUES ('chunks', ?), ('batches', ?)").run(
        seedSeq,
        seedSeq,
      );
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * Reads the wal-index header a crashed connection leaves in `<file>-shm` (SQLite's wal.c layout:
 * szPage u16 at 14, mxFrame u32 at 16, nBackfill u32 at 96, native byte order) and counts the
 * committed frames past the last checkpoint that the -wal file no longer holds. SQLite itself
 * rebuilds the index from whatever WAL it finds and says nothing, so this is the only trace of
 * the loss. 0 when there is no -shm, it is not initialised, or the WAL is whole.
 */
function lostWalFrames(file: string): number {
  let header: Buffer;
  try {
    header = fs.readFileSync(`${file}-shm`).subarray(0, 136);
  } catch {
    return 0;
  }
  if (header.length < 100) return 0;
  const le = os.endianness() === 'LE';
  const u32 = (at: number) => (le ? header.readUInt32LE(at) : header.readUInt32BE(at));
  const u16 = (at: number) => (le ? header.readUInt16LE(at) : header.readUInt16BE(at));
  const WAL_INDEX_VERSION = 3007000;
  if (u32(0) !== WAL_INDEX_VERSION || header[12] !== 1) return 0;
  const pageSize = u16(14) === 1 ? 65536 : u16(14);
  const mxFrame = u32(16);
  const backfilled = u32(96);
  if (pageSize < 512 || mxFrame <= backfilled) return 0;
  let walBytes = 0;
  try {
    walBytes = fs.statSync(`${file}-wal`).size;
  } catch {
    walBytes = 0;
  }
  const present = walBytes < 32 ? 0 : Math.floor((walBytes - 32) / (24 + pageSize));
  return present >= mxFrame ? 0 : mxFrame - Math.max(present, backfilled);
}

function isCorruption(err: unknown): boolean {
  if (err instanceof OutpostError) return err.code === 'E_QUEUE_CORRUPT';
  if (err instanceof Database.SqliteError) {
    return err.code === 'SQLITE_NOTADB' || err.code.startsWith('SQLITE_CORRUPT');
  }
  return false;
}

function moveAside(file: string, at: number): string {
  let target = `${file}.corrupt-${at}`;
  for (let n = 1; fs.existsSync(target); n++) target = `${file}.corrupt-${at}-${n}`;
  fs.renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix);
  }
  return target;
}

/** The last record and batch seqs assigned, as SQLite's AUTOINCREMENT keeps them. */
export function lastSequences(db: Database.Database): { records: number; batches: number } {
  const rows = db.prepare('SELECT name, seq FROM sqlite_sequence').all() as Array<{
    name: string;
    seq: number;
  }>;
  const of = (name: string) => rows.find((r) => r.name === name)?.seq ?? 0;
  return { records: of('chunks'), batches: of('batches') };
}

/** Makes the next AUTOINCREMENT seqs start above `floor` (sqlite_sequence has no key to upsert on). */
export function raiseSequences(db: Database.Database, floor: { records: number; batches: number }): void {
  const update = db.prepare('UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq < ?');
  const exists = db.prepare('SELECT 1 FROM sqlite_sequence WHERE name = ?');
  const insert = db.prepare('INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)');
  db.transaction(() => {
    for (const [name, seq] of [
      ['chunks', floor.records],
      ['batches', floor.batches],
    ] as const) {
      if (seq <= 0) continue;
      if (exists.get(name) === undefined) insert.run(name, seq);
      else update.run(seq, name, seq);
    }
  }).immediate();
}
