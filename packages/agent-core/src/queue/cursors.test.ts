import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import { bytesOf, openQueue, rec, tempQueuePath, writeVersion4Queue } from './fixtures.ts';

test('cursors: committed with the records, read back after a reopen, deleted with null', async () => {
  const file = tempQueuePath();
  let q = openQueue(file);
  assert.equal(q.cursor('log:/var/log/app.log'), null);
  q.enqueue([rec('log', 1), rec('log', 2)], { cursors: { 'log:/var/log/app.log': '{"offset":120}' } });
  q.enqueue([], { cursors: { 'log:/var/log/other.log': '{"offset":7}', 'x:unrelated': '1' } });
  assert.equal(q.stats().depth, 2, 'a cursor-only enqueue adds no records');
  await q.close();

  q = openQueue(file);
  assert.equal(q.cursor('log:/var/log/app.log'), '{"offset":120}');
  assert.deepEqual(
    [...q.cursors('log:').entries()],
    [
      ['log:/var/log/app.log', '{"offset":120}'],
      ['log:/var/log/other.log', '{"offset":7}'],
    ],
  );
  q.enqueue([], { cursors: { 'log:/var/log/other.log': null } });
  assert.equal(q.cursor('log:/var/log/other.log'), null);
  assert.equal(q.cursors().size, 2);
  await q.close();
});

test('cursors: a block-policy enqueue refused as full writes no cursor', async () => {
  const file = tempQueuePath();
  const first = rec('log', 1);
  const q = openQueue(file, { policy: 'block', maxBytes: bytesOf(first) + 10 });
  q.enqueue([first], { cursors: { 'log:a': '1' } });
  assert.throws(
    () => q.enqueue([rec('log', 2)], { cursors: { 'log:a': '2' } }),
    (err) => isOutpostError(err, 'E_QUEUE_FULL'),
  );
  assert.equal(q.cursor('log:a'), '1', 'the cursor stays with the records the queue holds');
  await q.close();
});

test('cursors: a version 1 queue file is migrated and keeps its records', async () => {
  const file = tempQueuePath();
  const db = writeVersion4Queue(file, [rec('metric', 1), rec('metric', 2)], Date.now());
  db.exec(`DROP TABLE cursors;
           DROP INDEX records_batch_fk;
           ALTER TABLE batches DROP COLUMN first_seq;
           ALTER TABLE batches DROP COLUMN last_seq;
           CREATE INDEX records_by_batch ON records(batch_seq, seq);`);
  db.pragma('user_version = 1');
  db.close();

  const q = openQueue(file);
  assert.equal(q.stats().depth, 2);
  q.enqueue([rec('metric', 3)], { cursors: { 'log:a': '5' } });
  assert.equal(q.cursor('log:a'), '5');
  await q.close();
});
