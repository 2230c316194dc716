import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import pino from 'pino';
import { isOutpostError } from '../errors.ts';
import { type Input, type InputOptions, SystemInput } from './index.ts';
import { PollingInput } from './input.ts';

const silent = pino({ level: 'silent' });

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const metric = (value: number): OutpostRecord => ({
  kind: 'metric',
  ts: Date.now(),
  name: 'test.value',
  value,
  unit: '1',
  attrs: {},
  source: 'test',
});

/** An input whose collection does whatever the test scripts. */
class ScriptedInput extends PollingInput {
  readonly name = 'scripted';
  readonly #collect: (run: number) => Promise<OutpostRecord[]>;
  calls = 0;
  active = 0;
  maxActive = 0;

  constructor(options: InputOptions, collect: (run: number) => Promise<OutpostRecord[]>) {
    super(options);
    this.#collect = collect;
  }

  protected async collect(): Promise<OutpostRecord[]> {
    this.calls++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return await this.#collect(this.calls);
    } finally {
      this.active--;
    }
  }
}

function logCapture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

test('input: start() emits on the interval and close() stops it', async () => {
  const batches: OutpostRecord[][] = [];
  const input: Input = new SystemInput({
    intervalMs: 100,
    metrics: ['uptime', 'load'],
    emit: async (records) => batches.push(records) > 0,
    logger: silent,
  });
  input.start();
  input.start();
  await waitFor('two emits', () => batches.length >= 2);
  assert.ok(batches.every((b) => b.some((r) => r.name === 'system.uptime')));
  const closing = input.close();
  assert.equal(input.close(), closing, 'close() returns the same promise twice');
  await closing;
  const emitted = batches.length;
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.equal(batches.length, emitted, 'no emit after close()');
  assert.ok(input.stats().runs >= 2);
  await assert.rejects(input.collectOnce(), (err: unknown) => isOutpostError(err, 'E_INPUT_CLOSED'));
  assert.throws(
    () => input.start(),
    (err: unknown) => isOutpostError(err, 'E_INPUT_CLOSED'),
  );
});

test('input: a collection that throws is counted and logged once, and the input keeps running', async () => {
  const { logger, lines } = logCapture();
  const emitted: OutpostRecord[][] = [];
  const input = new ScriptedInput(
    { intervalMs: 20, emit: async (r) => emitted.push(r) > 0, logger },
    async (run) => {
      if (run % 2 === 0) throw new Error('sensor unplugged');
      return [metric(run)];
    },
  );
  input.start();
  await waitFor('several failures and successes', () => input.stats().errors >= 3 && emitted.length >= 3);
  await input.close();
  const stats = input.stats();
  assert.equal(stats.lastError, 'sensor unplugged');
  assert.ok(stats.runs >= 6);
  assert.equal(stats.records, emitted.flat().length);
  assert.ok(stats.lastDurationMs !== null && stats.lastDurationMs >= 0);
  const warnings = lines.filter((l) => l.level === 40);
  assert.equal(warnings.length, 1, 'one warning per distinct message');
  assert.match(warnings[0]?.msg ?? '', /sensor unplugged/);
  assert.ok(lines.filter((l) => l.level === 20).length >= 2, 'repeats go to debug');
});

test('input: cycles never overlap; a tick during a slow cycle is skipped', async () => {
  const input = new ScriptedInput({ intervalMs: 10, emit: async () => true, logger: silent }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 60));
    return [];
  });
  input.start();
  await waitFor('a skipped tick after two runs', () => input.stats().runs >= 2 && input.stats().skipped >= 2);
  await input.close();
  assert.equal(input.maxActive, 1);
});

test('input: close() waits for the collection in progress, whose records are still emitted', async () => {
  let release: () => void = () => {};
  const emitted: OutpostRecord[] = [];
  const input = new ScriptedInput(
    { intervalMs: 10, emit: async (r) => emitted.push(...r) > 0, logger: silent },
    async (run) => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return [metric(run)];
    },
  );
  input.start();
  await waitFor('a collection in progress', () => input.active === 1);
  let closed = false;
  const closing = input.close().then(() => {
    closed = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(closed, false, 'close() is still waiting');
  release();
  await closing;
  assert.equal(emitted.length, 1);
  assert.equal(input.calls, 1);
});

test('input: collectOnce() returns records without emitting and rethrows a failure', async () => {
  const emitted: OutpostRecord[][] = [];
  const input = new ScriptedInput(
    { intervalMs: 1000, emit: async (r) => emitted.push(r) > 0, logger: silent },
    async (run) => {
      if (run === 2) throw new Error('second call fails');
      return [metric(run)];
    },
  );
  assert.deepEqual(
    (await input.collectOnce()).map((r) => r.value),
    [1],
  );
  await assert.rejects(input.collectOnce(), /second call fails/);
  assert.equal(emitted.length, 0);
  assert.deepEqual(
    { runs: input.stats().runs, errors: input.stats().errors, records: input.stats().records },
    { runs: 2, errors: 1, records: 1 },
  );
  await input.close();
});
