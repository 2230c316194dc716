import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { openQueue, rec, tempQueuePath } from './fixtures.ts';
import { verifyQueueFile } from './verify.ts';

test('verify: a healthy queue file, also while it is open, and it is left untouched', async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  q.enqueue(
    [1, 2, 3].map((i) => rec('log', i)),
    { cursors: { 'logfile:a': '1' } },
  );
  const batch = q.lease({ maxRecords: 2, maxBytes: 1e6 });
  assert.ok(batch);
  const before = fs.readFileSync(file);
  const report = verifyQueueFile(file);
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  assert.equal(report.records, 3);
  assert.equal(report.pendingRecords, 1);
  assert.equal(report.batches, 1);
  assert.equal(report.cursors, 1);
  assert.equal(report.lastSeq, 3);
  assert.deepEqual(fs.readFileSync(file), before, 'verify did not write to the file');
  await q.close();
});

test('verify: flipped bytes, an empty file, a missing file and a non-queue file are reported', async () => {
  const file = tempQueuePath();
  const q = openQueue(file);
  q.enqueue(Array.from({ length: 400 }, (_, i) => rec('metric', i, 300)));
  await q.close();
  const bytes = fs.readFileSync(file);
  for (let at = 4096; at < bytes.length; at += 997) bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  fs.writeFileSync(file, bytes);
  const flipped = verifyQueueFile(file);
  assert.equal(flipped.ok, false);
  assert.ok(flipped.problems.length > 0);

  fs.writeFileSync(file, '');
  assert.match(verifyQueueFile(file).problems[0] ?? '', /empty/);

  assert.match(verifyQueueFile(`${file}.missing`).problems[0] ?? '', /cannot read .*ENOENT/);

  fs.writeFileSync(file, 'not a database, just text that is long enough to have a header'.repeat(100));
  assert.match(verifyQueueFile(file).problems[0] ?? '', /not an SQLite database|not a database|unreadable/);
});
