import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { dropClassOf, splitChunk, toChunk } from './chunk.ts';
import {
  FakeClock,
  ids,
  openQueue,
  rec,
  tempQueuePath,
  writeVersion4Queue,
  writeVersion5Queue,
} from './fixtures.ts';
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
  assert.equal(report.schemaVersion, 6);
  assert.equal(report.lastSeq, 12);
  const after = new Database(file, { readonly: true });
  assert.equal(after.pragma('user_version', { simple: true }), 6);
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
  const asStored = rest.stored!;
  assert.deepEqual(asStored.seqs, seqs);
  const texts = asStored.payloads.map((payload) => payload.toString('utf8')).join('\n');
  assert.deepEqual(
    JSON.parse(`[${texts.split('\n').join(',')}]`),
    rest.records.map(({ seq: _, ...record }) => record),
  );
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

test('chunks: a version 5 file (TEXT payloads) keeps its chunks, formed batch, seq counter, dead letters and cursors', async () => {
  const file = tempQueuePath();
  const clock = new FakeClock();
  const chunks = [
    [rec('log', 1), rec('metric', 2), rec('alert', 3)],
    [rec('log', 4), rec('log', 5), rec('event', 6), rec('log', 7)],
    [rec('metric', 8), rec('log', 9, 400), rec('log', 10)],
  ];
  // Seqs 11 and 12 were sent and acked; batch 7 was formed from seqs 1..3 and sent once.
  const db = writeVersion5Queue(file, chunks, clock.t, 12);
  db.exec(`INSERT INTO batches(seq, created_at, attempts, first_seq, last_seq) VALUES (7, ${clock.t}, 1, 1, 3);
           INSERT INTO counters(name, value) VALUES ('formed_through', 3), ('dropped.max_age', 2);
           INSERT INTO dead_letter(seq, batch_seq, enqueued_at, bytes, payload, attempts, code, message, status, dead_at)
             VALUES (0, 2, ${clock.t}, ${JSON.stringify(rec('log', 99)).length}, '${JSON.stringify(rec('log', 99))}', 1, 'E_BAD_BODY', 'refused', 400, ${clock.t});
           INSERT INTO cursors(key, value, updated_at) VALUES ('logfile:/var/log/app.log', '{"offset":9}', 1);`);
  db.close();
  const before = verifyQueueFile(file);
  assert.deepEqual(before.problems, [], 'verify reads version 5 TEXT payloads');
  assert.equal(before.schemaVersion, 5);

  const q = openQueue(file, { now: clock.now });
  const stats = q.stats();
  assert.equal(stats.depth, 10);
  assert.equal(stats.batches, 1);
  assert.equal(stats.deadLetter, 1);
  assert.equal(stats.lastSeq, 12);
  assert.equal(stats.dropped.max_age, 2);
  assert.equal(q.cursor('logfile:/var/log/app.log'), '{"offset":9}');
  const all = chunks.flat().map((record, i) => ({ seq: i + 1, ...record }));

  const formed = q.lease({ maxRecords: 100, maxBytes: 1e6 })!;
  assert.equal(formed.seq, 7, 'the formed batch keeps its seq (its Idempotency-Key)');
  assert.deepEqual(formed.records, all.slice(0, 3));
  // Ends inside the last chunk: the migrated TEXT chunk is split into two BLOB chunks.
  const next = q.lease({ maxRecords: 5, maxBytes: 1e6 })!;
  assert.deepEqual(next.records, all.slice(3, 8));
  assert.deepEqual(next.stored?.seqs, [4, 5, 6, 7, 8]);
  assert.deepEqual(q.enqueue([rec('metric', 11), rec('log', 12)]), { accepted: 2, dropped: 0 });
  q.ack(formed.seq);
  q.ack(next.seq);
  const rest = q.lease({ maxRecords: 100, maxBytes: 1e6 })!;
  assert.deepEqual(
    rest.records.map((r) => r.seq),
    [9, 10, 13, 14],
    'new records get seqs above the counter the version 5 file kept',
  );
  assert.deepEqual(ids(rest.records), [9, 10, 11, 12]);
  assert.equal(q.retryDeadLetter(), 1);
  await q.close();

  const report = verifyQueueFile(file);
  assert.deepEqual(report.problems, []);
  assert.equal(report.schemaVersion, 6);
  assert.equal(report.lastSeq, 15);
  const after = new Database(file, { readonly: true });
  assert.equal(after.pragma('user_version', { simple: true }), 6);
  assert.deepEqual(after.prepare('SELECT DISTINCT typeof(payload) FROM chunks').pluck().all(), ['blob']);
  after.close();
});

test("chunks: a leased batch's stored payloads are freed on release, and a later lease reads them again", async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  const records = Array.from({ length: 600 }, (_, i) => rec('log', i, 300));
  q.enqueue(records);
  const batch = q.lease({ maxRecords: 1000, maxBytes: 1e6 })!;
  const stored = batch.stored!;
  assert.equal(stored.seqs.length, 600);
  assert.ok(stored.payloads.every((payload) => payload.length > 0));
  stored.release();
  assert.ok(stored.payloads.every((payload) => payload.length === 0));
  assert.throws(() => batch.records, /the records of batch \d+ were released/);
  q.release(batch.seq);
  const again = q.lease({ maxRecords: 1000, maxBytes: 1e6 })!;
  assert.equal(again.seq, batch.seq);
  assert.deepEqual(
    ids(again.records),
    records.map((_, i) => i),
  );
  await q.close();
});

test('chunks: splitChunk cuts a chunk at a record edge in its bytes, as toChunk would build both parts', () => {
  const records = [rec('alert', 1), rec('log', 2), rec('metric', 3), rec('event', 4), rec('log', 5)];
  records[1] = { ...records[1]!, body: 'ünï €€ 🚀 "q" \\ line' };
  const rows = records.map((record, i) => {
    const payload = JSON.stringify(record);
    return { seq: [3, 7, 8, 12, 13][i]!, payload, bytes: Buffer.byteLength(payload, 'utf8'), dropClass: 0 };
  });
  for (const row of rows) row.dropClass = dropClassOf(row.payload);
  const chunk = toChunk(rows, 1000);
  for (let cut = 1; cut < rows.length; cut++) {
    let asked = 0;
    const split = splitChunk(chunk, (bytes) => {
      assert.equal(bytes, rows[asked]!.bytes, 'each record is offered with its own bytes');
      return ++asked <= cut;
    })!;
    assert.deepEqual(
      split.headSeqs,
      rows.slice(0, cut).map((r) => r.seq),
    );
    const expectHead = toChunk(rows.slice(0, cut), 1000);
    const expectTail = toChunk(rows.slice(cut), 1000);
    assert.deepEqual(
      { ...split.head, payload: split.head.payload.toString() },
      {
        ...expectHead,
        payload: expectHead.payload.toString(),
      },
    );
    assert.deepEqual(
      { ...split.tail, payload: split.tail.payload.toString() },
      {
        ...expectTail,
        payload: expectTail.payload.toString(),
      },
    );
  }
  assert.equal(
    splitChunk(chunk, () => false),
    null,
    'none taken',
  );
  assert.equal(
    splitChunk(chunk, () => true),
    null,
    'all taken: the chunk stays whole',
  );
});
