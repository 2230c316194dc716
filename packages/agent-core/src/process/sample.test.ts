import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logLine, manualClock, pipelineOf, statsOf } from './fixtures.ts';

const lines = (n: number, attrs: (i: number) => Record<string, string> = () => ({})) =>
  Array.from({ length: n }, (_, i) => logLine(`line ${i}`, attrs(i)));

test('sample: rate keeps exactly 1 in N, fraction keeps floor(n × fraction), drops are counted', async () => {
  const { pipeline } = pipelineOf([
    { type: 'sample', name: 'one-in-10', rate: 10 },
    { type: 'sample', name: 'quarter', fraction: 0.25 },
  ]);
  const out = await pipeline.process(lines(1000));
  assert.equal(out.length, 25);
  assert.equal(out[0]?.body, 'line 30', 'the 4th of those kept by the first stage');
  assert.deepEqual(statsOf(pipeline, 'one-in-10'), {
    stage: 'one-in-10',
    type: 'sample',
    in: 1000,
    out: 100,
    dropped: 900,
    errors: 0,
  });
  assert.deepEqual(statsOf(pipeline, 'quarter'), {
    stage: 'quarter',
    type: 'sample',
    in: 100,
    out: 25,
    dropped: 75,
    errors: 0,
  });
  await pipeline.close();
});

test('sample: with a key, every record of a key shares its fate, the same in every pipeline', async () => {
  const config = [{ type: 'sample', fraction: 0.3, key: 'trace_id' }];
  const input = lines(3000, (i) => ({ trace_id: `trace-${i % 300}` }));
  const a = pipelineOf(config).pipeline;
  const b = pipelineOf(config).pipeline;
  const keptA = await a.process(input);
  const keptB = await b.process(input);
  assert.deepEqual(keptA, keptB, 'deterministic across pipelines (and hosts)');
  const keptTraces = new Set(keptA.map((r) => r.attrs.trace_id));
  assert.equal(keptA.length, keptTraces.size * 10, 'all 10 records of each kept trace are kept');
  assert.ok(keptTraces.size > 45 && keptTraces.size < 135, `about 30% of 300 traces, got ${keptTraces.size}`);
  await a.close();
  await b.close();
});

test('rate_limit: a token bucket per source; refused records are dropped and counted', async () => {
  const clock = manualClock();
  const { pipeline } = pipelineOf([{ type: 'rate_limit', name: 'rl', records_per_second: 100, burst: 50 }], {
    now: clock.now,
  });
  const nginx = lines(80);
  const app = lines(30).map((r) => ({ ...r, source: 'plugin:app' }));
  const first = await pipeline.process([...nginx, ...app]);
  assert.equal(first.filter((r) => r.source === 'log').length, 50, 'the burst');
  assert.equal(
    first.filter((r) => r.source === 'plugin:app').length,
    30,
    'another source has its own bucket',
  );

  clock.advance(200);
  assert.equal((await pipeline.process(lines(80))).length, 20, '200 ms refill 20 tokens');
  clock.advance(10_000);
  assert.equal((await pipeline.process(lines(80))).length, 50, 'refill is capped at the burst');
  assert.deepEqual(statsOf(pipeline, 'rl'), {
    stage: 'rl',
    type: 'rate_limit',
    in: 270,
    out: 150,
    dropped: 120,
    errors: 0,
  });
  await pipeline.close();
});
