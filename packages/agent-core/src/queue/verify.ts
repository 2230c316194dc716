import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type ChunkRecord, type ChunkRow, chunkRecords, toChunk } from './chunk.ts';
import { SCHEMA_VERSION } from './database.ts';

export interface QueueFileReport {
  path: string;
  ok: boolean;
  /** What is wrong, one line each; empty when ok. */
  problems: string[];
  schemaVersion: number | null;
  fileBytes: number;
  walBytes: number;
  records: number;
  pendingRecords: number;
  batches: number;
  deadLetter: number;
  cursors: number;
  lastSeq: number;
  oldestEnqueuedAt: number | null;
}

/**
 * Checks a queue file without touching it: the file and its WAL are copied to a temp dir and the
 * copy is opened, so this is safe while an agent runs and never changes what the agent will read.
 */
export function verifyQueueFile(file: string): QueueFileReport {
  const report: QueueFileReport = {
    path: file,
    ok: false,
    problems: [],
    schemaVersion: null,
    fileBytes: 0,
    walBytes: 0,
    records: 0,
    pendingRecords: 0,
    batches: 0,
    deadLetter: 0,
    cursors: 0,
    lastSeq: 0,
    oldestEnqueuedAt: null,
  };
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    report.problems.push(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return report;
  }
  if (!stat.isFile()) {
    report.problems.push(`${file} is not a file`);
    return report;
  }
  report.fileBytes = stat.size;
  report.walBytes = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
  if (stat.size === 0) {
    report.problems.push(
      'the file is empty (cut short from outside); the agent starts a fresh queue over it',
    );
    return report;
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-queue-verify-'));
  try {
    const copy = path.join(dir, 'queue.db');
    fs.copyFileSync(file, copy);
    if (report.walBytes > 0) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    inspect(copy, report);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  report.ok = report.problems.length === 0;
  return report;
}

function inspect(copy: string, report: QueueFileReport): void {
  let db: Database.Database;
  try {
    db = new Database(copy, { fileMustExist: true });
  } catch (err) {
    report.problems.push(`not an SQLite database: ${(err as Error).message}`);
    return;
  }
  try {
    const integrity = db.pragma('integrity_check(20)', { simple: false }) as Array<{
      integrity_check: string;
    }>;
    const messages = integrity.map((row) => row.integrity_check).filter((m) => m !== 'ok');
    for (const message of messages) report.problems.push(`integrity: ${message}`);
    if (messages.length > 0) return;

    const version = db.pragma('user_version', { simple: true }) as number;
    report.schemaVersion = version;
    if (version === 0) {
      report.problems.push('no queue schema: this is not an Outpost queue file (or it was never opened)');
      return;
    }
    if (version > SCHEMA_VERSION) {
      report.problems.push(
        `schema version ${version} is newer than this agentctl understands (${SCHEMA_VERSION})`,
      );
      return;
    }
    if (version >= 5) inspectChunks(db, report);
    else inspectRecords(db, version, report);
    report.batches = one<{ n: number }>(db, 'SELECT count(*) AS n FROM batches').n;
    report.deadLetter = one<{ n: number }>(db, 'SELECT count(*) AS n FROM dead_letter').n;
    if (version >= 2) report.cursors = one<{ n: number }>(db, 'SELECT count(*) AS n FROM cursors').n;
  } catch (err) {
    report.problems.push(`unreadable: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

const one = <T>(db: Database.Database, sql: string): T => db.prepare(sql).get() as T;

function formedThroughOf(db: Database.Database): number {
  return (
    one<{ value: number } | undefined>(db, "SELECT value FROM counters WHERE name = 'formed_through'")
      ?.value ?? 0
  );
}

/** Version 5: records in chunks (database.ts); each chunk is taken apart and checked in full. */
function inspectChunks(db: Database.Database, report: QueueFileReport): void {
  const formedThrough = formedThroughOf(db);
  const totals = one<{ records: number | null; oldest: number | null; top: number | null }>(
    db,
    'SELECT sum(records) AS records, min(enqueued_at) AS oldest, max(last_seq) AS top FROM chunks',
  );
  report.records = totals.records ?? 0;
  report.pendingRecords =
    one<{ n: number | null }>(db, `SELECT sum(records) AS n FROM chunks WHERE last_seq > ${formedThrough}`)
      .n ?? 0;
  report.lastSeq =
    one<{ seq: number } | undefined>(db, "SELECT seq FROM sqlite_sequence WHERE name = 'chunks'")?.seq ?? 0;
  report.oldestEnqueuedAt = totals.oldest;

  const empty = one<{ n: number }>(
    db,
    'SELECT count(*) AS n FROM batches b WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.last_seq BETWEEN b.first_seq AND b.last_seq)',
  ).n;
  if (empty > 0) report.problems.push(`${empty} batches hold no records`);
  const stray = one<{ n: number | null }>(
    db,
    `SELECT sum(records) AS n FROM chunks c WHERE c.last_seq <= ${formedThrough} AND NOT EXISTS (SELECT 1 FROM batches b WHERE c.first_seq >= b.first_seq AND c.last_seq <= b.last_seq)`,
  ).n;
  if (stray) report.problems.push(`${stray} records are below the formed mark but in no batch`);

  let bad = 0;
  let badChunks = 0;
  const chunks = db
    .prepare('SELECT last_seq, first_seq, enqueued_at, records, bytes, classes, seqs, payload FROM chunks')
    .iterate() as Iterable<ChunkRow>;
  for (const row of chunks) {
    // Version 5 kept the payload as TEXT; version 6 as a BLOB.
    const payload = row.payload as Buffer | string;
    const chunk = typeof payload === 'string' ? { ...row, payload: Buffer.from(payload, 'utf8') } : row;
    const problem = chunkProblem(chunk);
    if (problem === null) continue;
    badChunks++;
    bad += chunk.records;
    if (badChunks <= 5) report.problems.push(`chunk ending at seq ${chunk.last_seq}: ${problem}`);
  }
  if (badChunks > 0) report.problems.push(`${bad} records have a payload that is not a valid record`);
  if (totals.top !== null && report.lastSeq < totals.top) {
    report.problems.push('the record sequence is behind the stored records (seqs could be reused)');
  }
}

function chunkProblem(chunk: ChunkRow): string | null {
  let records: ChunkRecord[];
  try {
    records = chunkRecords(chunk);
  } catch (err) {
    return `unreadable seqs or record: ${(err as Error).message}`;
  }
  if (records.length !== chunk.records)
    return `holds ${records.length} records, its row says ${chunk.records}`;
  const seqs = records.map((r) => r.seq);
  if (seqs[0] !== chunk.first_seq || seqs[seqs.length - 1] !== chunk.last_seq) {
    return `its seqs run ${seqs[0]}..${seqs[seqs.length - 1]}, its row says ${chunk.first_seq}..${chunk.last_seq}`;
  }
  if (seqs.some((seq, i) => !Number.isInteger(seq) || (i > 0 && seq <= seqs[i - 1]!))) {
    return 'its seqs are not strictly increasing';
  }
  const expected = toChunk(records, chunk.enqueued_at);
  if (expected.bytes !== chunk.bytes)
    return `its records hold ${expected.bytes} bytes, its row says ${chunk.bytes}`;
  if (expected.classes !== chunk.classes) return 'its drop classes do not match its records';
  for (const record of records) {
    try {
      const parsed = JSON.parse(record.payload) as { kind?: unknown } | null;
      if (typeof parsed?.kind !== 'string') return `record ${record.seq} has no kind`;
    } catch {
      return `record ${record.seq} is not valid JSON`;
    }
  }
  return null;
}

/** Versions 1 to 4: one row per record. */
function inspectRecords(db: Database.Database, version: number, report: QueueFileReport): void {
  report.records = one<{ n: number }>(db, 'SELECT count(*) AS n FROM records').n;
  const formedThrough = version >= 4 ? formedThroughOf(db) : 0;
  report.pendingRecords =
    version >= 4
      ? one<{ n: number }>(db, `SELECT count(*) AS n FROM records WHERE seq > ${formedThrough}`).n
      : one<{ n: number }>(db, 'SELECT count(*) AS n FROM records WHERE batch_seq IS NULL').n;
  report.lastSeq =
    one<{ seq: number } | undefined>(db, "SELECT seq FROM sqlite_sequence WHERE name = 'records'")?.seq ?? 0;
  report.oldestEnqueuedAt =
    one<{ at: number | null }>(db, 'SELECT min(enqueued_at) AS at FROM records').at ?? null;

  const orphans = one<{ n: number }>(
    db,
    'SELECT count(*) AS n FROM records r WHERE r.batch_seq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.seq = r.batch_seq)',
  ).n;
  if (orphans > 0) report.problems.push(`${orphans} records belong to batches that do not exist`);
  const empty = one<{ n: number }>(
    db,
    version >= 4
      ? 'SELECT count(*) AS n FROM batches b WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.seq BETWEEN b.first_seq AND b.last_seq)'
      : 'SELECT count(*) AS n FROM batches b WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.batch_seq = b.seq)',
  ).n;
  if (empty > 0) report.problems.push(`${empty} batches hold no records`);
  if (version >= 4) {
    const stray = one<{ n: number }>(
      db,
      `SELECT count(*) AS n FROM records r WHERE r.seq <= ${formedThrough} AND NOT EXISTS (SELECT 1 FROM batches b WHERE r.seq BETWEEN b.first_seq AND b.last_seq)`,
    ).n;
    if (stray > 0) report.problems.push(`${stray} records are below the formed mark but in no batch`);
  }
  const badPayloads = one<{ n: number }>(
    db,
    "SELECT count(*) AS n FROM records WHERE NOT json_valid(payload) OR json_extract(payload, '$.kind') IS NULL OR bytes != length(CAST(payload AS BLOB))",
  ).n;
  if (badPayloads > 0)
    report.problems.push(`${badPayloads} records have a payload that is not a valid record`);
  if (report.records > 0 && report.lastSeq < one<{ m: number }>(db, 'SELECT max(seq) AS m FROM records').m) {
    report.problems.push('the record sequence is behind the stored records (seqs could be reused)');
  }
}
