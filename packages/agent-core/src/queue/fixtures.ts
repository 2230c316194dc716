import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { OutpostRecord, RecordKind } from '@outpost/plugin-sdk';
import Database from 'better-sqlite3';
import pino, { type Logger } from 'pino';
import { Queue, type QueueOptions } from './index.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A queue file path inside a fresh temp dir, removed when the test file ends. */
export function tempQueuePath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-queue-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'queue.db');
}

export const silent: Logger = pino({ level: 'silent' });

/** A logger that keeps every line it writes, parsed. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export class FakeClock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function openQueue(file: string, overrides: Partial<QueueOptions> = {}): Queue {
  return Queue.open({
    path: file,
    maxBytes: 1024 * 1024,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: silent,
    ...overrides,
  });
}

/**
 * A record in the queue's canonical field order, so JSON.stringify(record) is byte for byte what
 * the queue stores; padded to exactly `size` payload bytes when given.
 */
export function rec(kind: RecordKind, id: number, size?: number): OutpostRecord {
  const base = build(kind, id, '');
  if (size === undefined) return base;
  const pad = size - bytesOf(base);
  if (pad < 0) throw new Error(`rec(${kind}, ${id}) needs at least ${bytesOf(base)} bytes`);
  return build(kind, id, 'x'.repeat(pad));
}

function build(kind: RecordKind, id: number, pad: string): OutpostRecord {
  const attrs = { id, pad };
  switch (kind) {
    case 'metric':
      return {
        kind,
        ts: 1000 + id,
        name: 'system.cpu.utilization',
        value: id / 10,
        unit: '1',
        attrs,
        source: 'system',
      };
    case 'log':
      return { kind, ts: 1000 + id, name: '/var/log/syslog', body: `line ${id}`, attrs, source: 'log' };
    default:
      return { kind, ts: 1000 + id, name: `${kind}.${id}`, attrs, source: 'plugin:test' };
  }
}

export function bytesOf(record: OutpostRecord): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}

export function ids(records: Array<{ attrs: Record<string, unknown> }>): number[] {
  return records.map((r) => r.attrs.id as number);
}

/** The schema of queue files written by agents before chunks (version 4), to test their migration. */
const VERSION_4_SCHEMA = `
CREATE TABLE batches (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  first_seq  INTEGER NOT NULL DEFAULT 0,
  last_seq   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE records (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_seq   INTEGER REFERENCES batches(seq),
  enqueued_at INTEGER NOT NULL,
  drop_class  INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  payload     TEXT NOT NULL
) STRICT;
CREATE INDEX records_batch_fk ON records(batch_seq) WHERE batch_seq IS NOT NULL;
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
CREATE TABLE cursors (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;

/**
 * Writes a version 4 queue file (one row per record) holding `records` under seqs 1..n, enqueued at
 * `enqueuedAt`, with its seq ceiling file as that agent left it; returns it open, for the test to
 * add batches, dead letters and cursors in version 4's terms.
 */
export function writeVersion4Queue(
  file: string,
  records: OutpostRecord[],
  enqueuedAt: number,
): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(VERSION_4_SCHEMA);
  const insert = db.prepare(
    'INSERT INTO records(enqueued_at, drop_class, bytes, payload) VALUES (?, ?, ?, ?)',
  );
  const classes: Record<RecordKind, number> = { log: 0, metric: 1, event: 1, alert: 2 };
  for (const record of records) {
    const payload = JSON.stringify(record);
    insert.run(enqueuedAt, classes[record.kind], Buffer.byteLength(payload, 'utf8'), payload);
  }
  db.pragma('user_version = 4');
  fs.writeFileSync(
    `${file}.seq-ceiling`,
    `${JSON.stringify({ version: 1, records: records.length, batches: 0 })}\n`,
  );
  return db;
}

/** Version 5's chunks table (payloads as TEXT), frozen here to test the migration to version 6. */
const VERSION_5_CHUNKS = `
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
DROP TABLE records;
`;

/**
 * Writes a version 5 queue file: `chunks` stored one after another from seq 1, each one row whose
 * payload is its records' JSON joined by '\n' as TEXT, enqueued at `enqueuedAt`; the chunks' seq
 * counter at `lastSeq` (seqs above the stored ones were sent already) and the seq ceiling file as
 * that agent left it. Returns it open, for the test to add batches, dead letters and cursors.
 */
export function writeVersion5Queue(
  file: string,
  chunks: OutpostRecord[][],
  enqueuedAt: number,
  lastSeq: number,
): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(VERSION_4_SCHEMA);
  db.exec(VERSION_5_CHUNKS);
  const insert = db.prepare(
    'INSERT INTO chunks(last_seq, first_seq, enqueued_at, records, bytes, classes, seqs, payload) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)',
  );
  const classes: Record<RecordKind, number> = { log: 0, metric: 1, event: 1, alert: 2 };
  let seq = 0;
  for (const records of chunks) {
    const payloads = records.map((record) => JSON.stringify(record));
    const bytes = payloads.reduce((sum, payload) => sum + Buffer.byteLength(payload, 'utf8'), 0);
    const mask = records.reduce((bits, record) => bits | (1 << classes[record.kind]), 0);
    insert.run(seq + records.length, seq + 1, enqueuedAt, records.length, bytes, mask, payloads.join('\n'));
    seq += records.length;
  }
  db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'chunks'").run(lastSeq);
  db.pragma('user_version = 5');
  fs.writeFileSync(
    `${file}.seq-ceiling`,
    `${JSON.stringify({ version: 1, records: lastSeq, batches: 0 })}\n`,
  );
  return db;
}
