import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openQueue, rec, tempQueuePath } from './fixtures.ts';

const walSize = (file: string) => (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);

/** Pushes `rounds` x 200 records of 1 KiB through enqueue, lease and ack; returns the largest WAL seen. */
function churn(q: ReturnType<typeof openQueue>, file: string, rounds: number, from: number): number {
  let largest = 0;
  for (let round = 0; round < rounds; round++) {
    q.enqueue(Array.from({ length: 200 }, (_, i) => rec('log', from + round * 200 + i, 1024)));
    for (let batch = q.lease({ maxRecords: 100, maxBytes: 1e9 }); batch; ) {
      q.ack(batch.seq);
      batch = q.lease({ maxRecords: 100, maxBytes: 1e9 });
    }
    largest = Math.max(largest, walSize(file));
  }
  return largest;
}

test('wal: stays bounded under steady traffic while another connection is held open', async () => {
  const file = tempQueuePath();
  const q = openQueue(file, { maxBytes: 1 << 30 });
  const reader = new Database(file, { readonly: true });
  const peek = reader.prepare('SELECT count(*) AS n FROM chunks');
  try {
    // ~40 MiB of records pass through; an idle reader between statements must not pin the WAL.
    const largest = churn(q, file, 200, 0);
    assert.ok(peek.get(), 'the reader can read meanwhile');
    assert.ok(largest < 16 * 1024 * 1024, `WAL grew to ${largest} bytes`);
  } finally {
    reader.close();
    await q.close();
  }
  assert.equal(walSize(file), 0, 'close checkpoints and truncates the WAL');
});

test('wal: a reader holding a transaction never blocks writes, and the WAL is reset once it lets go', async () => {
  const file = tempQueuePath();
  const q = openQueue(file, { maxBytes: 1 << 30 });
  const reader = new Database(file, { readonly: true });
  try {
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM chunks').get();
    const pinned = churn(q, file, 60, 0);
    assert.ok(pinned > 8 * 1024 * 1024, `a pinned snapshot keeps the WAL growing (${pinned} bytes)`);
    reader.exec('COMMIT');
    churn(q, file, 60, 1_000_000);
    // Once the reader let go, the queue's own checkpoint truncates the WAL back under its bound.
    const after = churn(q, file, 60, 2_000_000);
    assert.ok(after < 20 * 1024 * 1024, `WAL stayed at ${after} bytes after the reader let go`);
    assert.equal(q.stats().depth, 0);
  } finally {
    reader.close();
    await q.close();
  }
});
