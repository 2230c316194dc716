import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { FakeClock, ids, openQueue, rec, tempQueuePath, writeVersion4Queue } from './fixtures.ts';
import { verifyQueueFile } from './verify.ts';

const big = { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 };

test('chunks: a version 4 file keeps its pending records, formed batch, dead letters, cursors and counters', async () => {
  const file = tempQueuePath();
  const clock = new FakeClock();
  const kinds = [
    'log',
    'metric',
    'alert',
    'event',
    'log',
    'metric',
    'log',
    'event',
    'metric',
    'log',
  ] as const;
  const db = writeVersion4Queue(
    file,
    kinds.map((kind, i) => rec(kind, i + 1)),
    clock.t,
  );
  // Batch 4 was formed from seqs 1..3 and sent twice; 9 and 10 were refused in batch 2.
  db.exec(`INSERT INTO batches(seq, created_at, attempts, first_seq, last_seq) VALUES (4, ${clock.t}, 2, 1, 3);
           INSERT INTO counters(name, value) VALUES ('formed_through', 3), ('dropped.queue_full', 4);
           INSERT INTO dead_letter(seq, batch_seq, enqueued_at, bytes, payload, attempts, code, message, status, dead_at)
             SELECT seq, 2, enqueued_at, bytes, payload, 1, 'E_BAD_BODY', 'refused', 400, ${clock.t}
               FROM records WHERE seq >= 9;
           DELETE FROM records WHERE seq >= 9;
           INSERT INTO cursors(key, value, updated_at) VALUES ('logfile:/var/log/app.log', '{"offset":77}', 1);`);
  db.close();

  const q = openQueue(file, { now: clock.now });
  const stats = q.stats();
  assert.equal(stats.depth, 8);
  assert.equal(stats.batches, 1);
  assert.equal(stats.deadLetter, 2);
  assert.equal(stats.lastSeq, 10);
  assert.equal(stats.dropped.queue_full, 4);
  assert.equal(stats.oldestTs, clock.t);
  assert.equal(q.cursor('logfile:/var/log/app.log'), '{"offset":77}');

  const formed = q.lease(big)!;
  assert.equal(formed.seq, 4, 'the formed batch keeps its seq (its Idempotency-Key)');
  assert.equal(formed.attempts, 2);
  assert.deepEqual(
    formed.records.map((r) => r.seq),
    [1, 2, 3],
  );
  q.ack(formed.seq);
  const pending = q.lease(big)!;
  assert.ok(pending.seq > 4);
  assert.deepEqual(
    pending.records.map((r) => r.seq),
    [4, 5, 6, 7, 8],
  );
  assert.deepEqual(
    pending.records,
    kinds.slice(3, 8).map((kind, i) => ({ seq: i + 4, ...rec(kind, i + 4) })),
  );
  q.ack(pending.seq);

  const [dead] = q.deadLetters();
  assert.equal(dead?.batchSeq, 2);
  assert.deepEqual(ids(dead?.sample ?? []), [9, 10]);
  assert.equal(q.retryDeadLetter(), 2);
  const retried = q.lease(big)!;
  assert.deepEqual(ids(retried.records), [9, 10]);
  assert.deepEqual(
    retried.records.map((r) => r.seq),
    [11, 12],
    'retried records get fresh seqs',
  );
  q.ack(retried.seq);
  await q.close();

  const report = verifyQueueFile(file);
  assert.deepEqual(report.problems, []);
  assert.equal(report.schemaVersion, 5);
  assert.equal(report.lastSeq, 12);
  const after = new Database(file, { readonly: true });
  assert.equal(after.pragma('user_version', { simple: true }), 5);
  after.close();
});

test('chunks: large enqueues are stored in chunks; batches split them and drop_oldest takes records out of them', async () => {
  const file = tempQueuePath();
  let q = openQueue(file, { maxBytes: 361_000 });
  // 1200 records of alternating classes: three chunks (500, 500, 200).
  const records = Array.from({ length: 1200 }, (_, i) => rec(i % 2 === 0 ? 'log' : 'alert', i, 300));
  q.enqueue(records);
  const chunksOf = () => {
    const db = new Database(file, { readonly: true });
    const rows = db
      .prepare('SELECT first_seq, last_seq, records FROM chunks ORDER BY last_seq')
      .all() as Array<{
      first_seq: number;
      last_seq: number;
      records: number;
    }>;
    db.close();
    return rows;
  };
  assert.deepEqual(chunksOf(), [
    { first_seq: 1, last_seq: 500, records: 500 },
    { first_seq: 501, last_seq: 1000, records: 500 },
    { first_seq: 1001, last_seq: 1200, records: 200 },
  ]);

  const batch = q.lease({ maxRecords: 700, maxBytes: 361_000 })!;
  assert.deepEqual(
    ids(batch.records),
    records.slice(0, 700).map((_, i) => i),
  );
  assert.deepEqual(
    chunksOf().map((c) => [c.first_seq, c.last_seq]),
    [
      [1, 500],
      [501, 700],
      [701, 1000],
      [1001, 1200],
    ],
    'the chunk the batch ends inside is split at its edge',
  );

  // Past max bytes: the oldest pending logs (even ids from 700 on) go one by one, alerts stay.
  const stored = q.stats().bytes;
  const extra = Math.ceil((stored + 10 * 300 - 361_000) / 300);
  const result = q.enqueue(Array.from({ length: 10 }, (_, i) => rec('alert', 5000 + i, 300)));
  assert.deepEqual(result, { accepted: 10, dropped: extra });
  assert.equal(q.stats().dropped.queue_full, extra);
  await q.close();
  assert.deepEqual(verifyQueueFile(file).problems, []);

  q = openQueue(file, { maxBytes: 361_000 });
  const again = q.lease(big)!;
  assert.equal(again.seq, batch.seq, 'the formed batch is whole after the eviction and a reopen');
  assert.equal(again.records.length, 700);
  q.ack(again.seq);
  const rest = q.lease(big)!;
  const evicted = new Set(Array.from({ length: extra }, (_, i) => 700 + 2 * i));
  const expected = [
    ...records
      .slice(700)
      .map((_, i) => 700 + i)
      .filter((id) => !evicted.has(id)),
    ...Array.from({ length: 10 }, (_, i) => 5000 + i),
  ];
  assert.deepEqual(ids(rest.records), expected);
  const seqs = rest.records.map((r) => r.seq);
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'records keep their seqs, in order',
  );
  assert.deepEqual(JSON.parse(`[${rest.recordsJson?.join(',')}]`), rest.records);
  q.ack(rest.seq);
  assert.equal(q.stats().depth, 0);
  await q.close();
});

test('chunks: verify reports a chunk whose row does not match its records', async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  q.enqueue([rec('log', 1), rec('metric', 2), rec('log', 3)]);
  await q.close();
  const db = new Database(file);
  db.exec('UPDATE chunks SET bytes = bytes + 1');
  db.close();
  const report = verifyQueueFile(file);
  assert.equal(report.ok, false);
  assert.match(
    report.problems.join('\n'),
    /chunk ending at seq 3: its records hold \d+ bytes, its row says \d+/,
  );
});
