import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { HeapTrim } from './heap-trim.ts';

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
}

test('heap trim: a trim after a burst hands the grown heap back', () => {
  const trim = new HeapTrim();
  // A burst: short-lived records, as a busy log input makes them, grow the young generation.
  let kept: object[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    kept.push({ body: `line ${i}`, attrs: { n: i } });
    if (kept.length >= 50_000) kept = [];
  }
  kept = [];
  const before = v8.getHeapStatistics().total_heap_size;
  trim.trim();
  const after = v8.getHeapStatistics().total_heap_size;
  assert.ok(after < before, `heap ${before} -> ${after} bytes`);
  const stats = trim.stats();
  assert.equal(stats.trims, 1);
  assert.ok(stats.lastTrimMs !== null && stats.lastTrimMs >= 0);
});

test('heap trim: trims only a quiet process that grew since the last trim', async () => {
  const trim = new HeapTrim({ quietCpuPercent: 20, minGrowthBytes: 0 });
  busyFor(100);
  assert.equal(trim.check(), false, 'busy since the last look');
  await sleep(300);
  assert.equal(trim.check(), true, 'quiet, and grown since start');
  assert.equal(trim.stats().trims, 1);

  const strict = new HeapTrim({ quietCpuPercent: 20, minGrowthBytes: 1024 ** 3 });
  await sleep(300);
  assert.equal(strict.check(), false, 'quiet, but RSS never grew by 1 GiB');
  assert.equal(strict.stats().trims, 0);
});

test('heap trim: close stops the timer and is safe twice', async () => {
  const trim = new HeapTrim({ intervalMs: 10, quietCpuPercent: 100, minGrowthBytes: 0 });
  trim.start();
  await sleep(100);
  await trim.close();
  await trim.close();
  const trims = trim.stats().trims;
  assert.ok(trims >= 1, 'the timer looked and trimmed');
  await sleep(100);
  assert.equal(trim.stats().trims, trims, 'no look after close');
});

test('heap trim: the first look comes after firstCheckMs, not a whole interval', async () => {
  const trim = new HeapTrim({
    intervalMs: 60_000,
    firstCheckMs: 20,
    quietCpuPercent: 100,
    minGrowthBytes: 0,
  });
  trim.start();
  await sleep(300);
  assert.equal(trim.stats().trims, 1, 'looked (and trimmed) once, well before the 60 s interval');
  await trim.close();
  await trim.close();
});
