import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { capturingLogger, FakeClock, ids, openQueue, rec, tempQueuePath } from './fixtures.ts';

const big = { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 };

function asideFiles(file: string): string[] {
  return fs
    .readdirSync(path.dirname(file))
    .filter((f) => f.includes('.corrupt-'))
    .sort();
}

async function fillAndClose(file: string): Promise<void> {
  const q = openQueue(file);
  for (let i = 0; i < 20; i++) q.enqueue(Array.from({ length: 50 }, (_, j) => rec('log', i * 50 + j, 400)));
  q.lease({ maxRecords: 100, maxBytes: 1e9 });
  await q.close();
}

test('queue: garbage bytes at the path are moved aside and an empty queue starts', async () => {
  const file = tempQueuePath();
  const clock = new FakeClock();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const garbage = randomBytes(8192);
  fs.writeFileSync(file, garbage);
  // SQLite itself deletes a -wal/-shm it cannot use when the failed connection closes, so only a
  // usable one is left for the queue to move aside along with the main file.
  fs.writeFileSync(`${file}-wal`, randomBytes(100));
  const { logger, lines } = capturingLogger();

  const q = openQueue(file, { logger, now: clock.now });
  const stats = q.stats();
  assert.equal(stats.corruptRecovered, true);
  assert.equal(stats.depth, 0);

  const movedTo = `${file}.corrupt-${clock.t}`;
  assert.equal(asideFiles(file)[0], path.basename(movedTo));
  assert.deepEqual(fs.readFileSync(movedTo), garbage, 'the old bytes are kept for a post-mortem');
  const warning = lines.find((l) => l.level === 40);
  assert.ok(warning, 'a warning was logged');
  assert.equal(warning.path, file);
  assert.equal(warning.movedTo, movedTo);
  assert.match(String(warning.msg), /corrupt/);

  q.enqueue([rec('metric', 1)]);
  const batch = q.lease(big)!;
  assert.ok(batch.seq > clock.t, 'batch seqs restart above anything the lost file could have sent');
  assert.ok(batch.records[0]!.seq > clock.t, 'record seqs too');
  await q.close();

  const reopened = openQueue(file, { now: clock.now });
  assert.equal(reopened.stats().corruptRecovered, false, 'the fresh file opens cleanly: no loop');
  assert.deepEqual(reopened.lease(big), batch);
  await reopened.close();
  assert.equal(asideFiles(file).filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm')).length, 1);
});

test('queue: a truncated queue file is moved aside and an empty queue starts', async () => {
  const file = tempQueuePath();
  await fillAndClose(file);
  const size = fs.statSync(file).size;
  assert.ok(size > 64 * 1024, `the file has many pages (${size} bytes)`);
  fs.truncateSync(file, Math.floor(size / 2) + 100);

  const { logger } = capturingLogger();
  const q = openQueue(file, { logger });
  assert.equal(q.stats().corruptRecovered, true);
  assert.equal(q.stats().depth, 0);
  assert.equal(asideFiles(file).length, 1);
  q.enqueue([rec('metric', 1)]);
  assert.deepEqual(ids(q.lease(big)!.records), [1]);
  await q.close();
});

test('queue: flipped bytes inside the b-tree pages are caught by quick_check', async () => {
  const file = tempQueuePath();
  await fillAndClose(file);
  const fd = fs.openSync(file, 'r+');
  // Page 1 holds the header and schema; scribble over interior pages instead.
  const pageSize = 4096;
  for (const page of [2, 3, 5, 8]) fs.writeSync(fd, randomBytes(64), 0, 64, page * pageSize);
  fs.closeSync(fd);

  const { logger } = capturingLogger();
  const q = openQueue(file, { logger });
  assert.equal(q.stats().corruptRecovered, true);
  assert.equal(asideFiles(file).length, 1);
  await q.close();
});

test('queue: a file truncated to nothing starts empty with sequences above the old ones', async () => {
  const file = tempQueuePath();
  const clock = new FakeClock();
  await fillAndClose(file);
  fs.truncateSync(file, 0);
  const { logger, lines } = capturingLogger();
  const q = openQueue(file, { logger, now: clock.now });
  assert.equal(q.stats().depth, 0);
  assert.ok(lines.some((l) => l.level === 40 && l.path === file));
  q.enqueue([rec('metric', 1)]);
  const batch = q.lease(big)!;
  assert.ok(batch.seq > clock.t && batch.records[0]!.seq > clock.t);
  await q.close();
});
