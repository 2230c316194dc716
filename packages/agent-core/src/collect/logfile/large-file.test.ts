import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { Harness, waitFor } from './fixtures.ts';

const LINE_BYTES = 200;
const LINES = 500_000; // 100 MB

test('logfile: a 100 MB file is read completely with bounded memory', async () => {
  const h = new Harness({ maxBytes: 4 * 1024 ** 3 });
  const file = h.file('big.log');
  const fd = fs.openSync(file, 'w');
  // Written through one reused buffer, so the test's own heap stays flat.
  const perWrite = 5000;
  const chunk = Buffer.alloc(perWrite * LINE_BYTES, 'x');
  for (let i = 0; i < LINES; i += perWrite) {
    for (let j = 0; j < perWrite; j++) {
      chunk.write(`line ${String(i + j).padStart(7, '0')} `, j * LINE_BYTES, 'latin1');
      chunk[(j + 1) * LINE_BYTES - 1] = 10;
    }
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  assert.equal(fs.statSync(file).size, LINE_BYTES * LINES);

  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = heapBefore;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 20);
  const input = h.input({ batchMaxRecords: 1000 });
  await waitFor(
    () => `all lines read (${input.stats().records} so far)`,
    () => input.stats().records >= LINES,
    60_000,
  );
  clearInterval(sampler);
  const stats = input.stats();
  assert.equal(stats.lines, LINES);
  assert.equal(stats.records, LINES);
  assert.equal(stats.bytesRead, LINE_BYTES * LINES);
  assert.equal(h.queue.stats().depth, LINES);
  const cursor = [...h.queue.cursors('logfile:app:').values()]
    .map((v) => JSON.parse(v))
    .find((c) => 'offset' in c);
  assert.equal(cursor?.offset, LINE_BYTES * LINES);
  // One batch (1000 records) and one 256 KiB chunk in flight; garbage not yet collected on top.
  const grownMiB = (peakHeap - heapBefore) / 2 ** 20;
  assert.ok(grownMiB < 64, `heap grew by ${grownMiB.toFixed(1)} MiB while reading 100 MB`);
  await h.close();
});
