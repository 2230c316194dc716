import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ids, openQueue, rec, tempQueuePath } from './fixtures.ts';

const refused = { code: 'E_COLLECTOR_REJECTED', message: 'field records[0].name: required', status: 400 };

test('dead letter: batches are listed with their reason, retried as new records, or purged and counted', async () => {
  const file = tempQueuePath();
  let q = openQueue(file);
  q.enqueue([1, 2, 3, 4, 5].map((i) => rec('metric', i)));
  const first = q.lease({ maxRecords: 2, maxBytes: 1e6 });
  const second = q.lease({ maxRecords: 2, maxBytes: 1e6 });
  assert.ok(first && second);
  q.deadLetter(first.seq, refused);
  q.deadLetter(second.seq, { ...refused, status: 422 });
  await q.close();

  q = openQueue(file);
  const listed = q.deadLetters({ sample: 1 });
  assert.deepEqual(
    listed.map((b) => [b.batchSeq, b.records, b.status, b.code, ids(b.sample)]),
    [
      [first.seq, 2, 400, 'E_COLLECTOR_REJECTED', [1]],
      [second.seq, 2, 422, 'E_COLLECTOR_REJECTED', [3]],
    ],
  );
  assert.equal(q.stats().deadLetter, 4);

  assert.equal(q.retryDeadLetter(first.seq), 2);
  assert.equal(q.stats().deadLetter, 2);
  const again = q.lease({ maxRecords: 10, maxBytes: 1e6 });
  assert.ok(again);
  assert.notEqual(again.seq, first.seq, 'a retried batch is sent under a new batch seq');
  // The collector stored none of them, so they come back as new records: after what was pending,
  // with fresh seqs above every seq already handed out.
  assert.deepEqual(ids(again.records), [5, 1, 2]);
  const lastBefore = Math.max(...second.records.map((r) => r.seq), 5);
  assert.deepEqual(
    again.records.map((r) => r.seq),
    [5, lastBefore + 1, lastBefore + 2],
  );
  q.ack(again.seq);

  assert.equal(q.purgeDeadLetter(), 2);
  assert.equal(q.purgeDeadLetter(), 0, 'purging an empty table is a no-op');
  const stats = q.stats();
  assert.equal(stats.deadLetter, 0);
  assert.equal(stats.dropped.purged, 2);
  assert.equal(stats.depth, 0);
  await q.close();

  q = openQueue(file);
  assert.equal(q.stats().dropped.purged, 2, 'the purge count survives a reopen');
  await q.close();
});
