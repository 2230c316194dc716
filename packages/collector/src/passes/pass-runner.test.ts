import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PassRunner } from './index.ts';

test('passes: a burst of requests during a pass costs one more pass; close waits for it and ignores later requests', async () => {
  let passes = 0;
  let release: () => void = () => {};
  const runner = new PassRunner({
    run: async () => {
      passes += 1;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    intervalMs: 60_000,
    onError: (err) => assert.fail(String(err)),
  });
  runner.request();
  for (let i = 0; i < 10; i++) runner.request();
  assert.equal(passes, 1);
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(passes, 2, 'the requests made during the first pass ran one more');
  const closing = runner.close();
  assert.equal(runner.close(), closing, 'close twice answers the same promise');
  let closed = false;
  void closing.then(() => {
    closed = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closed, false, 'close waits for the pass in progress');
  release();
  await closing;
  runner.request();
  assert.equal(passes, 2);
});

test('passes: a failed pass is reported and the next request runs again; spacing delays a follow-up pass', async () => {
  const errors: unknown[] = [];
  const starts: number[] = [];
  const runner = new PassRunner({
    run: async () => {
      starts.push(Date.now());
      if (starts.length === 1) throw new Error('store busy');
    },
    intervalMs: 60_000,
    minSpacingMs: 100,
    onError: (err) => errors.push(err),
  });
  runner.request();
  runner.request();
  const deadline = Date.now() + 5_000;
  while (starts.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await runner.close();
  assert.deepEqual(
    errors.map((e) => (e as Error).message),
    ['store busy'],
  );
  assert.equal(starts.length, 2);
  assert.ok(starts[1]! - starts[0]! >= 95, `follow-up started ${starts[1]! - starts[0]!} ms after the first`);
});
