import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import { isOutpostError } from '../errors.ts';
import { capturingLogger, logLine, manualClock, metric, pipelineOf, silent, statsOf } from './fixtures.ts';
import { Pipeline, processorsSchema } from './index.ts';

test('pipeline: match selects by kind, name glob, source and attrs; others pass untouched, in order', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'transform',
      name: 'tag-nginx',
      match: { kind: 'log', name: '/var/log/nginx/*.log', source: 'log', attrs: { env: 'prod' } },
      add: { service: 'nginx' },
    },
  ]);
  const records = [
    logLine('a', { env: 'prod' }, '/var/log/nginx/access.log'),
    logLine('b', { env: 'dev' }, '/var/log/nginx/access.log'),
    metric('/var/log/nginx/access.log', 1, { env: 'prod' }),
    logLine('c', { env: 'prod' }, '/var/log/app.log'),
    logLine('d', { env: 'prod' }, '/var/log/nginx/error.log'),
  ];
  const out = await pipeline.process(records);
  assert.deepEqual(
    out.map((r) => r.attrs.service ?? null),
    ['nginx', null, null, null, 'nginx'],
  );
  for (const i of [1, 2, 3]) assert.equal(out[i], records[i], 'the very same object');
  assert.deepEqual(statsOf(pipeline, 'tag-nginx'), {
    stage: 'tag-nginx',
    type: 'transform',
    in: 5,
    out: 5,
    dropped: 0,
    errors: 0,
  });
  await pipeline.close();
});

test('pipeline: tap sees the records after each stage until unsubscribed', async () => {
  const { pipeline } = pipelineOf([
    { type: 'parse', name: 'json', format: 'json' },
    { type: 'filter', name: 'errors-only', keep: { attrs: { level: 'error' } } },
  ]);
  assert.deepEqual(pipeline.stages(), ['json', 'errors-only']);
  const seen: Record<string, OutpostRecord[][]> = { input: [], json: [], 'errors-only': [], output: [] };
  const unsubscribe = Object.keys(seen).map((stage) =>
    pipeline.tap(stage, (records) => seen[stage]?.push(records)),
  );
  const input = [logLine('{"level":"info","msg":"a"}'), logLine('{"level":"error","msg":"b"}')];
  const out = await pipeline.process(input);

  assert.deepEqual(seen.input, [input]);
  assert.deepEqual(
    seen.json?.[0]?.map((r) => r.attrs.msg),
    ['a', 'b'],
  );
  assert.deepEqual(
    seen['errors-only']?.[0]?.map((r) => r.attrs.msg),
    ['b'],
  );
  assert.deepEqual(seen.output, [out]);

  for (const off of unsubscribe) off();
  await pipeline.process(input);
  assert.deepEqual(
    Object.values(seen).map((batches) => batches.length),
    [1, 1, 1, 1],
  );
  await pipeline.close();
});

test('pipeline: tap on an unknown stage names the stages; a throwing listener does not break the chain', async () => {
  const { logger, lines } = capturingLogger();
  const { pipeline } = pipelineOf([{ type: 'sample', rate: 1 }], { logger });
  assert.throws(
    () => pipeline.tap('parse#0', () => {}),
    (err) =>
      isOutpostError(err, 'E_PIPELINE_UNKNOWN_STAGE') &&
      err.message === 'no pipeline stage named "parse#0"; tap one of: input, sample#0, output',
  );
  pipeline.tap('sample#0', () => {
    throw new Error('listener bug');
  });
  assert.equal((await pipeline.process([logLine('x')])).length, 1);
  assert.ok(lines.some((l) => l.msg === 'a tap listener on "sample#0" threw: listener bug'));
  await pipeline.close();
});

test('pipeline: a plugin stage runs in order between built-in stages, on matched records only', async () => {
  const calls: OutpostRecord[][] = [];
  const enrich = async (records: OutpostRecord[]) => {
    calls.push(records);
    await new Promise((r) => setImmediate(r));
    return records.flatMap((r) =>
      r.attrs.status === '500' ? [{ ...r, attrs: { ...r.attrs, alert: true } }] : [],
    );
  };
  const { pipeline } = pipelineOf(
    [
      { type: 'parse', format: 'logfmt' },
      { type: 'plugin', name: 'enrich', plugin: 'geoip', match: { attrs: { kind: 'access' } } },
      { type: 'transform', add: { done: true } },
    ],
    { resolvePlugin: (name) => (name === 'geoip' ? enrich : undefined) },
  );
  const out = await pipeline.process([
    logLine('kind=app msg=first'),
    logLine('kind=access status=200'),
    logLine('kind=app msg=middle'),
    logLine('kind=access status=500'),
    logLine('kind=app msg=last'),
  ]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]?.length, 2, 'only matched records reach the plugin');
  assert.deepEqual(
    out.map((r) => r.attrs.msg ?? r.attrs.status),
    ['first', '500', 'middle', 'last'],
  );
  assert.ok(out.every((r) => r.attrs.done === true));
  assert.equal(out[1]?.attrs.alert, true);
  assert.deepEqual(statsOf(pipeline, 'enrich'), {
    stage: 'enrich',
    type: 'plugin',
    in: 5,
    out: 4,
    dropped: 0,
    errors: 0,
  });
  await pipeline.close();
});

test('pipeline: a failing plugin lets its records pass unchanged, counted, logged once', async () => {
  const { logger, lines } = capturingLogger();
  let calls = 0;
  const { pipeline } = pipelineOf([{ type: 'plugin', plugin: 'flaky' }], {
    logger,
    resolvePlugin: () => async () => {
      calls++;
      throw new Error('isolate timed out after 500 ms');
    },
  });
  const input = [logLine('a'), logLine('b')];
  assert.deepEqual(await pipeline.process(input), input);
  assert.deepEqual(await pipeline.process(input), input);
  assert.equal(calls, 2);
  assert.equal(statsOf(pipeline, 'plugin#0').errors, 2);
  const logged = lines.filter((l) => l.plugin === 'flaky');
  assert.equal(logged.length, 1);
  assert.equal(
    logged[0]?.msg,
    'process plugin failed, its records pass through unchanged: isolate timed out after 500 ms',
  );
  await pipeline.close();
});

test('pipeline: an unknown plugin is a config error naming the key and the plugin', () => {
  const config = processorsSchema.parse([
    { type: 'filter', drop: { level: 'debug' } },
    { type: 'plugin', plugin: 'gepip' },
  ]);
  const create = (resolvePlugin?: () => undefined) =>
    Pipeline.create(config, { logger: silent, emit: () => {}, ...(resolvePlugin ? { resolvePlugin } : {}) });
  assert.throws(
    () => create(() => undefined),
    (err) =>
      isOutpostError(err, 'E_PROCESSOR_PLUGIN_UNKNOWN') &&
      err.message ===
        'processors[1].plugin: no process plugin named "gepip" (stage "plugin#1"); install and enable it, or fix the name',
  );
  assert.throws(() => create(), /no process plugins are available/);
});

test('pipeline: close waits for a plugin call in flight, then flushes windows; afterwards it refuses', async () => {
  const clock = manualClock();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const { pipeline, emitted } = pipelineOf(
    [
      { type: 'plugin', plugin: 'slow' },
      { type: 'aggregate', window: '1m', keep_input: true },
    ],
    {
      now: clock.now,
      resolvePlugin: () => async (records) => {
        await gate;
        return records;
      },
    },
  );
  const pending = pipeline.process([metric('jobs', 1), metric('jobs', 2)]);
  const closing = pipeline.close();
  assert.equal(pipeline.close(), closing, 'the same promise');
  await assert.rejects(pipeline.process([]), (err) => isOutpostError(err, 'E_PIPELINE_CLOSED'));
  assert.throws(
    () => pipeline.tap('output', () => {}),
    (err) => isOutpostError(err, 'E_PIPELINE_CLOSED'),
  );
  release();
  assert.equal((await pending).length, 2);
  await closing;
  assert.deepEqual(
    emitted.flat().map((r) => [r.name, r.value]),
    [['jobs.count', 2]],
  );
});

test('pipeline: with no stages it returns what it was given', async () => {
  const pipeline = Pipeline.create([], { logger: silent, emit: () => {} });
  const input = [metric('a', 1)];
  assert.deepEqual(await pipeline.process(input), input);
  assert.deepEqual(pipeline.stats(), []);
  await pipeline.close();
});
