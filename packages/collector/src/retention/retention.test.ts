import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { addAgent } from '../../test/temp-store.ts';
import { type IngestRecord, openSqliteStore } from '../store/index.ts';
import { Retention } from './index.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

test('retention: old raw records become hourly rollups and are deleted in chunks; held cursors and recent data stay; new records reuse the space', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-retention-'));
  const file = path.join(dir, 'collector.db');
  const store = await openSqliteStore({ file });
  const now = 100 * DAY;
  const retention = new Retention({
    store,
    logger: pino({ level: 'silent' }),
    rawMs: 7 * DAY,
    rollupsMs: 30 * DAY,
    intervalMs: 3_600_000,
    holdCursors: () => ['forward:archive'],
    chunk: 500,
    now: () => now,
  });
  try {
    await addAgent(store, 'agt_1');
    let seq = 0;
    const records = (from: number, n: number, body = ''): IngestRecord[] =>
      Array.from({ length: n }, (_, i) => ({
        seq: ++seq,
        kind: 'metric' as const,
        ts: from + i * 1000,
        name: 'cpu',
        value: i % 10,
        attrs: { pad: body },
        source: 'test',
      }));
    const insert = (list: IngestRecord[]) =>
      store.transaction((tx) => tx.insertRecords('agt_1', list, now).then(() => undefined));
    const padding = 'x'.repeat(400);
    // 40 days old (its rollups expire too), 10 days old (rolled up, kept as rollups), 1 day old (kept raw).
    await insert(records(now - 40 * DAY, 1000, padding));
    await insert(records(now - 10 * DAY, 3000, padding));
    await insert(records(now - DAY, 100));
    const pages = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.pragma('page_count', { simple: true }) as number;
      } finally {
        db.close();
      }
    };

    // A sink has sent only the first 2000 records: the rest must wait for it.
    await store.alerts.setCursor('forward:archive', 2000, now);
    let result = await retention.sweep();
    assert.equal(result.rolledUp, 4100);
    assert.equal(result.deletedRecords, 2000);
    assert.equal(result.deletedRollups, 1, 'the one hour of rollups older than 30 days');
    await store.alerts.setCursor('forward:archive', 4100, now);
    const before = pages();
    result = await retention.sweep();
    assert.equal(result.deletedRecords, 2000);

    const left = await store.queryRecords({ limit: 10_000 });
    assert.equal(left.records.length, 100);
    assert.ok(left.records.every((r) => r.ts >= now - DAY));
    const { rollups } = await store.alerts.queryRollups({
      agentId: 'agt_1',
      name: 'cpu',
      from: now - 11 * DAY,
      to: now,
      limit: 1000,
    });
    assert.ok(rollups.length >= 1);
    const first = rollups[0]!;
    assert.equal(first.hour % HOUR, 0);
    assert.equal(first.count, 3000);
    assert.equal(first.min, 0);
    assert.equal(first.max, 9);
    assert.equal(first.avg, 4.5);
    assert.deepEqual(
      (
        await store.alerts.queryRollups({
          agentId: 'agt_1',
          name: 'cpu',
          from: 0,
          to: now - 31 * DAY,
          limit: 10,
        })
      ).rollups,
      [],
    );
    // A new file has no auto-vacuum: the freed pages stay in the file and new records fill them
    // before it grows.
    assert.ok(result.freePages > 0, `free pages after the sweep: ${result.freePages}`);
    await insert(records(now, 2000, padding));
    const after = pages();
    assert.ok(after <= before, `file pages ${before} -> ${after}`);
  } finally {
    await retention.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('retention: a file made with incremental auto-vacuum (before 16 KB pages) keeps it and shrinks', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-retention-'));
  const file = path.join(dir, 'collector.db');
  // What earlier versions created: writing the header fixes auto-vacuum and the 4 KB page size.
  const made = new Database(file);
  made.pragma('auto_vacuum = INCREMENTAL');
  made.pragma('user_version = 0');
  made.close();
  const store = await openSqliteStore({ file });
  const now = 100 * DAY;
  const retention = new Retention({
    store,
    logger: pino({ level: 'silent' }),
    rawMs: 7 * DAY,
    rollupsMs: 30 * DAY,
    intervalMs: 3_600_000,
    holdCursors: () => [],
    now: () => now,
  });
  const pragma = (name: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.pragma(name, { simple: true }) as number;
    } finally {
      db.close();
    }
  };
  try {
    assert.equal(pragma('auto_vacuum'), 2, 'incremental');
    assert.equal(pragma('page_size'), 4096);
    await addAgent(store, 'agt_1');
    const records: IngestRecord[] = Array.from({ length: 2000 }, (_, i) => ({
      seq: i + 1,
      kind: 'log' as const,
      ts: now - 10 * DAY + i,
      name: 'app',
      body: 'x'.repeat(400),
      attrs: {},
      source: 'test',
    }));
    await store.transaction((tx) => tx.insertRecords('agt_1', records, now).then(() => undefined));
    const before = pragma('page_count');
    const result = await retention.sweep();
    assert.equal(result.deletedRecords, 1999, 'all but the newest, whose id must not be handed out again');
    // Incremental auto-vacuum hands the freed pages back once the WAL is checkpointed.
    await store.close();
    const after = pragma('page_count');
    assert.ok(after < before / 2, `file pages ${before} -> ${after}`);
  } finally {
    await retention.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
