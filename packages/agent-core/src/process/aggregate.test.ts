import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import fc from 'fast-check';
import { logLine, manualClock, metric, pipelineOf, statsOf, T0 } from './fixtures.ts';

const byName = (records: OutpostRecord[]) =>
  Object.fromEntries(records.map((r) => [`${r.name}${JSON.stringify(r.attrs)}`, r.value]));

test('aggregate: metric values per key, emitted when the window closes (injected clock)', async () => {
  const clock = manualClock(T0 + 5_000);
  const { pipeline, emitted } = pipelineOf(
    [
      {
        type: 'aggregate',
        name: 'latency',
        match: { name: 'http.server.duration' },
        window: '60s',
        functions: ['count', 'sum', 'min', 'max', 'avg'],
        group_by: ['route'],
      },
    ],
    { now: clock.now },
  );
  const other = metric('system.cpu.utilization', 0.5);
  const first = await pipeline.process([
    metric('http.server.duration', 0.1, { route: '/a' }),
    other,
    metric('http.server.duration', 0.3, { route: '/a' }),
    metric('http.server.duration', 2, { route: '/b' }),
  ]);
  assert.deepEqual(first, [other], 'matched inputs are consumed, others pass');

  clock.advance(54_999);
  assert.deepEqual(await pipeline.process([metric('http.server.duration', 0.2, { route: '/a' })]), []);

  clock.advance(1);
  const closed = await pipeline.process([metric('http.server.duration', 5, { route: '/a' })]);
  assert.deepEqual(byName(closed), {
    'http.server.duration.count{"route":"/a"}': 3,
    'http.server.duration.sum{"route":"/a"}': 0.6000000000000001,
    'http.server.duration.min{"route":"/a"}': 0.1,
    'http.server.duration.max{"route":"/a"}': 0.3,
    'http.server.duration.avg{"route":"/a"}': 0.20000000000000004,
    'http.server.duration.count{"route":"/b"}': 1,
    'http.server.duration.sum{"route":"/b"}': 2,
    'http.server.duration.min{"route":"/b"}': 2,
    'http.server.duration.max{"route":"/b"}': 2,
    'http.server.duration.avg{"route":"/b"}': 2,
  });
  for (const r of closed) {
    assert.equal(r.kind, 'metric');
    assert.equal(r.ts, T0 + 60_000, 'stamped with the window end');
    assert.equal(r.source, 'system');
    assert.equal(r.unit, r.name.endsWith('.count') ? '{record}' : 's');
  }
  assert.equal(emitted.length, 0, 'nothing went through emit while process() could return it');

  await pipeline.close();
  assert.equal(emitted.length, 1, 'close() flushes the open window');
  assert.deepEqual(byName(emitted[0] ?? []), {
    'http.server.duration.count{"route":"/a"}': 1,
    'http.server.duration.sum{"route":"/a"}': 5,
    'http.server.duration.min{"route":"/a"}': 5,
    'http.server.duration.max{"route":"/a"}': 5,
    'http.server.duration.avg{"route":"/a"}': 5,
  });
  assert.equal(emitted[0]?.[0]?.ts, T0 + 60_000);
  assert.deepEqual(statsOf(pipeline, 'latency'), {
    stage: 'latency',
    type: 'aggregate',
    in: 6,
    out: 16,
    dropped: 0,
    errors: 0,
  });
  await pipeline.close();
  assert.equal(emitted.length, 1, 'close() is idempotent');
});

test('aggregate: counts log lines per status with keep_input, output_name, and p95 of a parsed field', async () => {
  const clock = manualClock(T0);
  const { pipeline, emitted } = pipelineOf(
    [
      { type: 'parse', format: 'logfmt' },
      {
        type: 'aggregate',
        match: { kind: 'log' },
        window: '10s',
        functions: ['count', 'p95'],
        field: 'duration_ms',
        group_by: 'status',
        output_name: 'nginx.requests',
        keep_input: true,
      },
      { type: 'transform', add: { pipeline: 'edge' } },
    ],
    { now: clock.now },
  );
  const lines = [];
  for (let i = 1; i <= 40; i++) lines.push(logLine(`status=200 duration_ms=${i}`));
  lines.push(logLine('status=500 duration_ms=oops'));
  const out = await pipeline.process(lines);
  assert.equal(out.length, 41, 'inputs pass through');
  assert.equal(out[0]?.attrs.pipeline, 'edge');
  await pipeline.close();
  const windows = emitted.flat();
  assert.deepEqual(
    byName(windows),
    {
      'nginx.requests.count{"status":"200","pipeline":"edge"}': 40,
      'nginx.requests.p95{"status":"200","pipeline":"edge"}': 38,
      'nginx.requests.count{"status":"500","pipeline":"edge"}': 1,
    },
    'later stages run on emitted windows; no p95 without values',
  );
});

test('aggregate: a timer emits closed windows through emit', async () => {
  const { pipeline, emitted } = pipelineOf([{ type: 'aggregate', window: '1s' }]);
  await pipeline.process([metric('queue.depth', 1), metric('queue.depth', 2)]);
  const deadline = Date.now() + 10_000;
  while (emitted.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(emitted.length, 1, 'the window was emitted by its timer');
  assert.equal(emitted[0]?.[0]?.name, 'queue.depth.count');
  assert.equal(emitted[0]?.[0]?.value, 2);
  await pipeline.close();
  assert.equal(emitted.length, 1, 'nothing left to flush');
});

test('aggregate: p95 equals the nearest rank of a sorted reference', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 500 }),
      async (values) => {
        const { pipeline, emitted } = pipelineOf([
          { type: 'aggregate', window: '1h', functions: ['p95', 'min', 'max'] },
        ]);
        await pipeline.process(values.map((v) => metric('x', v)));
        await pipeline.close();
        const sorted = [...values].sort((a, b) => a - b);
        const expected = sorted[Math.ceil(0.95 * sorted.length) - 1];
        const got = byName(emitted.flat());
        assert.equal(got['x.p95{}'], expected);
        assert.equal(got['x.min{}'], sorted[0]);
        assert.equal(got['x.max{}'], sorted[sorted.length - 1]);
      },
    ),
    { numRuns: 100 },
  );
});
