import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isOutpostError } from '../errors.ts';
import { bytesOf, FakeClock, ids, openQueue, rec, tempQueuePath, writeVersion4Queue } from './fixtures.ts';

const big = { maxRecords: 1000, maxBytes: 1024 * 1024 };

test('queue: enqueue assigns increasing seqs and lease returns the records in order', async () => {
  const q = openQueue(tempQueuePath());
  const input = [rec('metric', 1), rec('log', 2), rec('event', 3), rec('alert', 4)];
  assert.deepEqual(q.enqueue(input), { accepted: 4, dropped: 0 });
  const batch = q.lease(big);
  assert.ok(batch);
  assert.equal(batch.seq, 1);
  assert.equal(batch.attempts, 0);
  assert.deepEqual(
    batch.records.map((r) => r.seq),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    batch.records,
    input.map((r, i) => ({ seq: i + 1, ...r })),
  );
  assert.equal(
    batch.bytes,
    input.reduce((sum, r) => sum + bytesOf(r), 0),
  );
  const stats = q.stats();
  assert.equal(stats.depth, 4);
  assert.equal(stats.bytes, batch.bytes);
  assert.equal(stats.batches, 1);
  assert.equal(stats.leased, 1);
  assert.equal(stats.enqueued, 4);
  assert.equal(stats.lastSeq, 4);
  await q.close();
});

test('queue: an empty enqueue is a no-op and emits nothing', async () => {
  const q = openQueue(tempQueuePath());
  let events = 0;
  q.on('enqueued', () => events++);
  assert.deepEqual(q.enqueue([]), { accepted: 0, dropped: 0 });
  assert.equal(events, 0);
  assert.equal(q.stats().lastSeq, 0);
  await q.close();
});

test("queue: 'enqueued' fires after the commit with the accepted count", async () => {
  const q = openQueue(tempQueuePath());
  const seen: Array<{ count: number; depth: number }> = [];
  q.on('enqueued', (count) => seen.push({ count, depth: q.stats().depth }));
  q.enqueue([rec('metric', 1), rec('metric', 2)]);
  q.enqueue([rec('log', 3)]);
  assert.deepEqual(seen, [
    { count: 2, depth: 2 },
    { count: 1, depth: 3 },
  ]);
  await q.close();
});

test('queue: a throwing listener does not undo or fail the enqueue', async () => {
  const q = openQueue(tempQueuePath());
  q.on('enqueued', () => {
    throw new Error('listener bug');
  });
  assert.deepEqual(q.enqueue([rec('metric', 1)]), { accepted: 1, dropped: 0 });
  assert.equal(q.stats().depth, 1);
  await q.close();
});

test('queue: lease honours maxRecords and maxBytes but always takes one record', async () => {
  const q = openQueue(tempQueuePath());
  const records = [1, 2, 3, 4, 5].map((i) => rec('metric', i, 300));
  q.enqueue(records);
  const size = bytesOf(records[0]!);
  const byCount = q.lease({ maxRecords: 2, maxBytes: 1e9 });
  assert.deepEqual(ids(byCount!.records), [1, 2]);
  const byBytes = q.lease({ maxRecords: 100, maxBytes: size * 2 + size / 2 });
  assert.deepEqual(ids(byBytes!.records), [3, 4]);
  const oversized = q.lease({ maxRecords: 100, maxBytes: 1 });
  assert.deepEqual(ids(oversized!.records), [5]);
  assert.equal(q.lease(big), null, 'every batch is leased and nothing is pending');
  assert.deepEqual([byCount!.seq, byBytes!.seq, oversized!.seq], [1, 2, 3]);
  await q.close();
});

test('queue: lease on an empty queue returns null and forms no batch', async () => {
  const q = openQueue(tempQueuePath());
  assert.equal(q.lease(big), null);
  assert.equal(q.stats().batches, 0);
  await q.close();
});

test('queue: ack deletes the batch and its records and counts them', async () => {
  const q = openQueue(tempQueuePath());
  q.enqueue([rec('metric', 1), rec('metric', 2)]);
  const batch = q.lease({ maxRecords: 1, maxBytes: 1e9 })!;
  q.ack(batch.seq);
  const stats = q.stats();
  assert.equal(stats.depth, 1);
  assert.equal(stats.acked, 1);
  assert.equal(stats.batches, 0);
  assert.equal(stats.leased, 0);
  assert.equal(stats.bytes, bytesOf(rec('metric', 2)));
  assert.deepEqual(ids(q.lease(big)!.records), [2]);
  assert.throws(
    () => q.ack(batch.seq),
    (err) => isOutpostError(err, 'E_QUEUE_BATCH_UNKNOWN'),
  );
  await q.close();
});

test('queue: release returns the same batch again with attempts counted', async () => {
  const q = openQueue(tempQueuePath());
  q.enqueue([rec('metric', 1), rec('metric', 2)]);
  const first = q.lease({ maxRecords: 1, maxBytes: 1e9 })!;
  q.release(first.seq);
  q.enqueue([rec('metric', 3)]);
  const again = q.lease(big)!;
  assert.equal(again.seq, first.seq);
  assert.deepEqual(again.records, first.records);
  assert.equal(again.attempts, 1);
  q.release(again.seq);
  assert.equal(q.lease(big)!.attempts, 2);
  assert.throws(
    () => q.release(999),
    (err) => isOutpostError(err, 'E_QUEUE_BATCH_NOT_LEASED'),
  );
  await q.close();
});

test('queue: a leased batch is never leased twice; the next lease forms the next batch', async () => {
  const q = openQueue(tempQueuePath());
  q.enqueue([rec('metric', 1), rec('metric', 2), rec('metric', 3)]);
  const a = q.lease({ maxRecords: 1, maxBytes: 1e9 })!;
  const b = q.lease({ maxRecords: 1, maxBytes: 1e9 })!;
  assert.notEqual(a.seq, b.seq);
  assert.deepEqual(ids(b.records), [2]);
  q.release(b.seq);
  q.release(a.seq);
  assert.equal(q.lease(big)!.seq, a.seq, 'the oldest formed batch comes back first');
  assert.equal(q.lease(big)!.seq, b.seq);
  assert.deepEqual(ids(q.lease(big)!.records), [3]);
  await q.close();
});

test('queue: lease survives restart with the same batch seq and records', async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  q.enqueue([rec('metric', 1), rec('log', 2), rec('alert', 3), rec('metric', 4)]);
  const first = q.lease({ maxRecords: 2, maxBytes: 1e9 })!;
  const second = q.lease({ maxRecords: 1, maxBytes: 1e9 })!;
  q.release(second.seq);
  await q.close();

  const reopened = openQueue(file);
  const again = reopened.lease({ maxRecords: 1, maxBytes: 1 })!;
  assert.deepEqual(again, first, 'the leased-at-close batch comes back unchanged, limits ignored');
  const againSecond = reopened.lease(big)!;
  assert.equal(againSecond.seq, second.seq);
  assert.deepEqual(againSecond.records, second.records);
  assert.equal(againSecond.attempts, 1);
  const third = reopened.lease(big)!;
  assert.equal(third.seq, 3);
  assert.deepEqual(ids(third.records), [4]);
  await reopened.close();
});

test('queue: seqs keep increasing after everything is acked and the file is reopened', async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  q.enqueue([rec('metric', 1), rec('metric', 2)]);
  q.ack(q.lease(big)!.seq);
  assert.equal(q.stats().depth, 0);
  await q.close();

  const reopened = openQueue(file);
  assert.equal(reopened.stats().lastSeq, 2);
  reopened.enqueue([rec('metric', 3)]);
  const batch = reopened.lease(big)!;
  assert.equal(batch.seq, 2);
  assert.equal(batch.records[0]!.seq, 3);
  assert.equal(reopened.stats().lastSeq, 3);
  await reopened.close();
});

test('queue: drop_oldest evicts pending logs first, then metrics and events, never alerts or batched records', async () => {
  const one = 300;
  const q = openQueue(tempQueuePath(), { maxBytes: one * 7 });
  // Seqs 1..7: a batched metric, then pending metric, log, event, alert, log, metric.
  q.enqueue([rec('metric', 1, 300)]);
  const batch = q.lease(big)!;
  q.enqueue([
    rec('metric', 2, 300),
    rec('log', 3, 300),
    rec('event', 4, 300),
    rec('alert', 5, 300),
    rec('log', 6, 300),
    rec('metric', 7, 300),
  ]);

  const r1 = q.enqueue([rec('metric', 8, 300), rec('metric', 9, 300)]);
  assert.deepEqual(r1, { accepted: 2, dropped: 2 }, 'both pending logs go first');
  const r2 = q.enqueue([rec('alert', 10, 300)]);
  assert.deepEqual(r2, { accepted: 1, dropped: 1 }, 'then the oldest metric/event');
  const r3 = q.enqueue([rec('log', 11, 300)]);
  assert.deepEqual(r3, { accepted: 0, dropped: 0 }, 'a new log is worth less than a stored metric');
  q.release(batch.seq);

  const seen: number[] = [];
  for (let b = q.lease(big); b !== null; b = q.lease(big)) {
    seen.push(...ids(b.records));
    q.ack(b.seq);
  }
  assert.deepEqual(seen, [1, 4, 5, 7, 8, 9, 10]);
  assert.deepEqual(q.stats().dropped, { queue_full: 4, max_age: 0, purged: 0 });
  await q.close();
});

test('queue: alerts are accepted past the bound; new non-alerts are dropped and counted', async () => {
  const one = 300;
  const q = openQueue(tempQueuePath(), { maxBytes: one * 2 });
  q.enqueue([rec('alert', 1, 300), rec('alert', 2, 300)]);
  assert.deepEqual(q.enqueue([rec('alert', 3, 300)]), { accepted: 1, dropped: 0 });
  assert.deepEqual(q.enqueue([rec('metric', 4, 300), rec('alert', 5, 300), rec('log', 6, 300)]), {
    accepted: 1,
    dropped: 0,
  });
  const stats = q.stats();
  assert.equal(stats.depth, 4);
  assert.ok(stats.bytes > one * 2);
  assert.equal(stats.dropped.queue_full, 2);
  assert.equal(stats.lastSeq, 4, 'dropped new records consume no seq');
  assert.deepEqual(ids(q.lease(big)!.records), [1, 2, 3, 5]);
  await q.close();
});

test('queue: drop_oldest keeps the newest of one class when a single enqueue overflows', async () => {
  const one = 300;
  const q = openQueue(tempQueuePath(), { maxBytes: one * 2 });
  assert.deepEqual(q.enqueue([1, 2, 3, 4].map((i) => rec('log', i, 300))), { accepted: 2, dropped: 0 });
  assert.deepEqual(ids(q.lease(big)!.records), [3, 4]);
  await q.close();
});

test('queue: block policy refuses what does not fit, accepting none, until acks make room', async () => {
  const one = 300;
  const q = openQueue(tempQueuePath(), { maxBytes: one * 3, policy: 'block' });
  q.enqueue([rec('metric', 1, 300), rec('metric', 2, 300)]);
  assert.throws(
    () => q.enqueue([rec('alert', 3, 300), rec('metric', 4, 300)]),
    (err) => isOutpostError(err, 'E_QUEUE_FULL') && (err.details?.maxBytes as number) === one * 3,
  );
  assert.equal(q.stats().depth, 2);
  assert.equal(q.stats().lastSeq, 2);
  q.ack(q.lease({ maxRecords: 1, maxBytes: 1e9 })!.seq);
  assert.deepEqual(q.enqueue([rec('alert', 3, 300), rec('metric', 4, 300)]), { accepted: 2, dropped: 0 });
  assert.deepEqual(q.stats().dropped, { queue_full: 0, max_age: 0, purged: 0 });
  await q.close();
});

test('queue: block policy takes an oversized enqueue into an empty queue so inputs never stall forever', async () => {
  const q = openQueue(tempQueuePath(), { maxBytes: 10, policy: 'block' });
  assert.deepEqual(q.enqueue([rec('log', 1, 300)]), { accepted: 1, dropped: 0 });
  assert.throws(
    () => q.enqueue([rec('log', 2)]),
    (err) => isOutpostError(err, 'E_QUEUE_FULL'),
  );
  await q.close();
});

test('queue: records past max age are dropped on enqueue and on lease, never from formed batches', async () => {
  const clock = new FakeClock();
  const q = openQueue(tempQueuePath(), { maxAgeMs: 1000, now: clock.now });
  q.enqueue([rec('metric', 1)]);
  const batch = q.lease(big)!;
  q.enqueue([rec('metric', 2), rec('alert', 3)]);
  clock.advance(600);
  q.enqueue([rec('log', 4)]);
  assert.equal(q.stats().oldestTs, clock.t - 600);
  clock.advance(500);
  q.enqueue([rec('log', 5)]);
  assert.equal(q.stats().dropped.max_age, 2, 'metric 2 and alert 3 expired on enqueue');
  clock.advance(600);
  q.release(batch.seq);
  assert.deepEqual(ids(q.lease(big)!.records), [1], 'the formed batch is kept');
  const next = q.lease(big)!;
  assert.deepEqual(ids(next.records), [5], 'log 4 expired on lease');
  const stats = q.stats();
  assert.deepEqual(stats.dropped, { queue_full: 0, max_age: 3, purged: 0 });
  assert.equal(stats.depth, 2);
  await q.close();
});

test('queue: dead letter moves the batch records into the dead_letter table', async () => {
  const file = tempQueuePath();
  const clock = new FakeClock();
  const q = openQueue(file, { now: clock.now });
  q.enqueue([rec('metric', 1), rec('log', 2), rec('metric', 3)]);
  const batch = q.lease({ maxRecords: 2, maxBytes: 1e9 })!;
  q.release(batch.seq);
  q.lease(big);
  q.deadLetter(batch.seq, { code: 'E_BAD_BODY', message: 'records[1].ts: expected number', status: 400 });
  const stats = q.stats();
  assert.equal(stats.deadLetter, 2);
  assert.equal(stats.depth, 1);
  assert.equal(stats.batches, 0);
  assert.equal(stats.leased, 0);
  assert.equal(stats.acked, 0);
  assert.throws(
    () => q.deadLetter(batch.seq, { code: 'E_X', message: 'again' }),
    (err) => isOutpostError(err, 'E_QUEUE_BATCH_UNKNOWN'),
  );
  await q.close();

  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT * FROM dead_letter ORDER BY seq').all() as Array<Record<string, unknown>>;
  db.close();
  assert.deepEqual(
    rows.map((r) => [r.seq, r.batch_seq, r.code, r.status, r.attempts, r.dead_at]),
    [
      [1, batch.seq, 'E_BAD_BODY', 400, 1, clock.t],
      [2, batch.seq, 'E_BAD_BODY', 400, 1, clock.t],
    ],
  );
  assert.deepEqual(JSON.parse(rows[1]!.payload as string), rec('log', 2));

  const reopened = openQueue(file);
  assert.equal(reopened.stats().deadLetter, 2);
  await reopened.close();
});

test('queue: drop counters persist across reopen; since-open counters restart', async () => {
  const file = tempQueuePath();
  const one = bytesOf(rec('log', 1));
  const q = openQueue(file, { maxBytes: one });
  q.enqueue([rec('log', 1), rec('log', 2), rec('log', 3)]);
  q.ack(q.lease(big)!.seq);
  assert.deepEqual(q.stats().dropped, { queue_full: 2, max_age: 0, purged: 0 });
  await q.close();
  const reopened = openQueue(file, { maxBytes: one });
  const stats = reopened.stats();
  assert.deepEqual(stats.dropped, { queue_full: 2, max_age: 0, purged: 0 });
  assert.equal(stats.enqueued, 0);
  assert.equal(stats.acked, 0);
  assert.equal(stats.oldestTs, null);
  assert.equal(stats.lastSeq, 1, 'logs 1 and 2 were dropped before they got a seq');
  assert.equal(stats.corruptRecovered, false);
  await reopened.close();
});

test('queue: a re-enqueued QueuedRecord gets a new seq; stored payloads keep only record fields', async () => {
  const q = openQueue(tempQueuePath());
  q.enqueue([rec('metric', 1)]);
  const batch = q.lease(big)!;
  q.ack(batch.seq);
  q.enqueue(batch.records);
  const again = q.lease(big)!;
  assert.deepEqual(again.records, [{ ...rec('metric', 1), seq: 2 }]);
  await q.close();
});

test('queue: close is idempotent, checkpoints the WAL and makes every method refuse', async () => {
  const file = tempQueuePath();
  const q = openQueue(file, { durability: 'full' });
  q.enqueue([rec('metric', 1)]);
  const leased = q.lease(big)!;
  const closing = q.close();
  assert.equal(q.close(), closing);
  await closing;
  const walSize = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
  assert.equal(walSize, 0);
  const closed = (err: unknown) => isOutpostError(err, 'E_QUEUE_CLOSED');
  assert.throws(() => q.enqueue([rec('metric', 2)]), closed);
  assert.throws(() => q.lease(big), closed);
  assert.throws(() => q.ack(leased.seq), closed);
  assert.throws(() => q.release(leased.seq), closed);
  assert.throws(() => q.deadLetter(leased.seq, { code: 'E', message: 'm' }), closed);
  assert.throws(() => q.stats(), closed);
});

test('queue: a version 2 file is migrated: its indexes go and its formed batches are pending again', async () => {
  const file = tempQueuePath();
  // As version 2 kept them: records 1 and 2 tagged with formed batch 7, record 3 pending.
  const db = writeVersion4Queue(file, [rec('log', 1), rec('metric', 2), rec('metric', 3)], Date.now());
  db.exec(`DROP INDEX records_batch_fk;
           ALTER TABLE batches DROP COLUMN first_seq;
           ALTER TABLE batches DROP COLUMN last_seq;
           CREATE INDEX records_by_batch ON records(batch_seq, seq);
           CREATE INDEX records_pending_by_class ON records(drop_class, seq) WHERE batch_seq IS NULL;
           CREATE INDEX records_pending_by_age ON records(enqueued_at) WHERE batch_seq IS NULL;
           INSERT INTO batches(seq, created_at, attempts) VALUES (7, 1, 2);
           UPDATE records SET batch_seq = 7 WHERE seq <= 2;`);
  db.pragma('user_version = 2');
  db.close();

  const q = openQueue(file, { maxAgeMs: 60_000 });
  assert.equal(q.stats().batches, 0);
  const batch = q.lease(big)!;
  assert.deepEqual(ids(batch.records), [1, 2, 3], 'every record once, under its own seq');
  assert.deepEqual(
    batch.records.map((r) => r.seq),
    [1, 2, 3],
  );
  assert.ok(batch.seq > 7, 'the new batch seq is above the dissolved one');
  await q.close();
  const after = new Database(file, { readonly: true });
  const left = after.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'records'").pluck().all();
  assert.deepEqual(left, [], 'the records table and its indexes are gone (version 5 keeps chunks)');
  after.close();
});

test('queue: the file is a WAL database with the schema version set', async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  q.enqueue([rec('metric', 1)]);
  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('user_version', { simple: true }), 6);
  assert.equal(db.pragma('page_size', { simple: true }), 16 * 1024, 'a new file gets 16 KiB pages');
  db.close();
  await q.close();
  assert.ok(fs.existsSync(path.dirname(file)), 'parent dirs were created');
});

test('queue: a file from a newer agent is refused, not moved aside', async () => {
  const file = tempQueuePath();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('user_version = 99');
  db.close();
  assert.throws(
    () => openQueue(file),
    (err) => isOutpostError(err, 'E_QUEUE_SCHEMA'),
  );
  assert.equal(fs.readdirSync(path.dirname(file)).filter((f) => f.includes('corrupt')).length, 0);
});

test('queue: invalid options and lease limits are refused with E_QUEUE_OPTIONS', () => {
  const bad = (err: unknown) => isOutpostError(err, 'E_QUEUE_OPTIONS');
  assert.throws(() => openQueue(tempQueuePath(), { maxBytes: 0 }), bad);
  assert.throws(() => openQueue(tempQueuePath(), { maxAgeMs: -1 }), bad);
  assert.throws(() => openQueue(tempQueuePath(), { policy: 'spill' as 'block' }), bad);
  assert.throws(() => openQueue(tempQueuePath(), { durability: 'fast' as 'full' }), bad);
  assert.throws(() => openQueue(tempQueuePath(), { chunkMaxRecords: 0 }), bad);
  assert.throws(() => openQueue(tempQueuePath(), { chunkMaxRecords: 2.5 }), bad);
  const q = openQueue(tempQueuePath());
  assert.throws(() => q.lease({ maxRecords: 0, maxBytes: 10 }), bad);
  return q.close();
});
