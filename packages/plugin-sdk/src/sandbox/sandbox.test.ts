import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from '../manifest/index.ts';
import type { OutpostRecord } from '../record.ts';
import { RECORDS_PER_PIECE, readPluginOutput, toJsonPieces } from '../records/index.ts';
import {
  isOutpostError,
  MemoryStateStore,
  type PluginLogEntry,
  PluginSandbox,
  type PluginSandboxOptions,
} from './index.ts';

function manifest(fields: Record<string, unknown> = {}) {
  return parseManifest(
    {
      name: 'demo',
      version: '1.0.0',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['collect'],
      ...fields,
    },
    'test manifest',
  );
}

async function load(
  code: string,
  fields: Record<string, unknown> = {},
  options: Partial<PluginSandboxOptions> = {},
) {
  return PluginSandbox.load({ manifest: manifest(fields), code, ...options });
}

const fixedClock = { now: () => 1_700_000_000_000 };

const metric = (name: string, value: number, attrs: Record<string, string> = {}): OutpostRecord => ({
  kind: 'metric',
  ts: 1,
  name,
  value,
  attrs,
  source: 'system',
});

test('collect: returned and emitted records come out completed, config defaults applied, logs delivered', async (t) => {
  const logs: PluginLogEntry[] = [];
  const sandbox = await load(
    `export default {
      collect(ctx) {
        ctx.log.info('collecting', { target: ctx.config.target });
        console.warn('via console', 42);
        ctx.emit({ kind: 'metric', name: 'demo.value', value: ctx.config.factor * 2, unit: '1' });
        ctx.emit([{ kind: 'log', name: 'demo', body: 'hello', ts: 5 }]);
        return [{ kind: 'event', name: 'demo.started', attrs: { frozen: Object.isFrozen(ctx.config) } }];
      },
    };`,
    {
      configSchema: {
        type: 'object',
        properties: { target: { type: 'string' }, factor: { type: 'number', default: 21 } },
        required: ['target'],
      },
    },
    { config: { target: 'db' }, clock: fixedClock, onLog: (entry) => logs.push(entry) },
  );
  t.after(() => sandbox.dispose());
  assert.deepEqual(sandbox.config, { target: 'db', factor: 21 });
  const records = await sandbox.collect();
  assert.deepEqual(records, [
    {
      kind: 'event',
      ts: 1_700_000_000_000,
      name: 'demo.started',
      attrs: { frozen: true },
      source: 'plugin:demo',
    },
    {
      kind: 'metric',
      ts: 1_700_000_000_000,
      name: 'demo.value',
      value: 42,
      unit: '1',
      attrs: {},
      source: 'plugin:demo',
    },
    { kind: 'log', ts: 5, name: 'demo', body: 'hello', attrs: {}, source: 'plugin:demo' },
  ]);
  assert.deepEqual(
    logs.map((l) => [l.level, l.message, l.attrs]),
    [
      ['info', 'collecting', { target: 'db' }],
      ['warn', 'via console 42', undefined],
    ],
  );
  const stats = sandbox.stats();
  assert.equal(stats.calls, 1);
  assert.equal(stats.recordsOut, 3);
  assert.equal(stats.errors, 0);
  assert.ok(stats.cpuTimeMs > 0);
  assert.ok(stats.heapUsedBytes > 0);
});

test('process: the plugin works on copies; what it returns replaces the batch and may keep sources', async (t) => {
  const sandbox = await load(
    `export default {
      process(records, ctx) {
        for (const r of records) { r.name = 'mutated'; r.attrs.evil = true; }
        return records.filter((r) => r.value > 1).map((r) => ({ ...r, name: 'kept', attrs: { host: 'a' } }));
      },
    };`,
    { capabilities: ['process'] },
  );
  t.after(() => sandbox.dispose());
  const input = [metric('a', 1), metric('b', 2, { keep: 'yes' })];
  const snapshot = structuredClone(input);
  const out = await sandbox.process(input);
  assert.deepEqual(input, snapshot, 'the host copies are untouched');
  assert.deepEqual(out, [
    { kind: 'metric', ts: 1, name: 'kept', value: 2, attrs: { host: 'a' }, source: 'system' },
  ]);
  assert.equal(sandbox.stats().recordsIn, 2);
});

test('process: a batch of several JSON pieces reaches the plugin whole and in order, and comes back so', async (t) => {
  const sandbox = await load(
    `export default {
      process(records, ctx) {
        ctx.emit(records.map((r) => ({ kind: 'event', name: 'seen-' + r.name })));
        return records.map((r, i) => ({ ...r, attrs: { i } }));
      },
    };`,
    { capabilities: ['process'] },
  );
  t.after(() => sandbox.dispose());
  const count = RECORDS_PER_PIECE * 2 + 7;
  const input = Array.from({ length: count }, (_, i) => metric(`m${i}`, i));
  const output = await sandbox.callJson('process', toJsonPieces(input));
  assert.equal(output.returned.length, 3, 'the returned records are cut into pieces again');
  assert.equal(output.emitted.length, 3, 'so are the emitted ones');
  const out = readPluginOutput({ ...output, maxRecords: count * 2 });
  assert.equal(out.length, count * 2);
  assert.deepEqual(
    out.slice(0, count).map((r) => [r.name, r.attrs.i]),
    input.map((r, i) => [r.name, i]),
  );
  assert.deepEqual(
    out.slice(count).map((r) => r.name),
    input.map((r) => `seen-${r.name}`),
  );
  assert.equal(sandbox.stats().recordsIn, count);
  assert.equal(sandbox.stats().recordsOut, count * 2);
  await assert.rejects(sandbox.callJson('process', []), /the input must be JSON pieces/);
});

test('process: returning nothing is refused instead of silently dropping the batch', async (t) => {
  const sandbox = await load('export default { process(records) { records.length; } };', {
    capabilities: ['process'],
  });
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.process([metric('a', 1)]), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_OUTPUT'));
    assert.match(err.message, /plugin "demo": process\(\) output refused: process\(\) must return an array/);
    return true;
  });
});

test('rule: alerts out; anything but an alert is refused naming the record', async (t) => {
  const sandbox = await load(
    `export default {
      rule(records) {
        const hot = records.filter((r) => r.value > 90);
        if (hot.some((r) => r.attrs.bad === 'yes')) return [{ kind: 'metric', name: 'x', value: 1 }];
        return hot.map((r) => ({ kind: 'alert', name: 'cpu.high', body: 'cpu at ' + r.value, attrs: { state: 'firing', severity: 'critical', host: r.attrs.host } }));
      },
    };`,
    { capabilities: ['rule'] },
    { clock: fixedClock },
  );
  t.after(() => sandbox.dispose());
  const alerts = await sandbox.rule([metric('cpu', 95, { host: 'h1' }), metric('cpu', 10, { host: 'h2' })]);
  assert.deepEqual(alerts, [
    {
      kind: 'alert',
      ts: 1_700_000_000_000,
      name: 'cpu.high',
      body: 'cpu at 95',
      attrs: { state: 'firing', severity: 'critical', host: 'h1' },
      source: 'plugin:demo',
    },
  ]);
  await assert.rejects(sandbox.rule([metric('cpu', 99, { bad: 'yes' })]), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_OUTPUT'));
    assert.match(err.message, /returned\[0\]\.kind: must be "alert"/);
    return true;
  });
});

test('action: runs with the alert as input and keeps state between calls', async (t) => {
  const state = new MemoryStateStore();
  const sandbox = await load(
    `export default {
      async action(alert, ctx) {
        const seen = (await ctx.state.get('seen')) ?? [];
        seen.push(alert.name + ':' + alert.attrs.state);
        await ctx.state.set('seen', seen);
        ctx.emit({ kind: 'event', name: 'action.done', attrs: { count: seen.length } });
      },
    };`,
    { capabilities: ['action'] },
    { state },
  );
  t.after(() => sandbox.dispose());
  const alert = {
    kind: 'alert' as const,
    ts: 1,
    name: 'disk.full',
    attrs: { state: 'firing' as const, severity: 'warning' as const },
    source: 'plugin:rules',
  };
  assert.equal((await sandbox.action(alert))[0]?.attrs.count, 1);
  const second = await sandbox.action({ ...alert, attrs: { ...alert.attrs, state: 'resolved' } });
  assert.equal(second[0]?.attrs.count, 2);
  assert.deepEqual(state.toJSON(), { seen: ['disk.full:firing', 'disk.full:resolved'] });
});

test('state survives a reload with the same store; delete removes; non-JSON values are refused', async () => {
  const state = new MemoryStateStore();
  const code = `export default {
    async collect(ctx) {
      const n = ((await ctx.state.get('n')) ?? 0) + 1;
      await ctx.state.set('n', n);
      await ctx.state.set('tmp', { a: [1] });
      await ctx.state.delete('tmp');
      let refused = 'no';
      try { await ctx.state.set('f', () => 1); } catch (err) { refused = err.message; }
      return [{ kind: 'metric', name: 'n', value: n, attrs: { refused } }];
    },
  };`;
  for (const expected of [1, 2]) {
    const sandbox = await load(code, {}, { state });
    const [record] = await sandbox.collect();
    assert.equal(record?.value, expected);
    assert.match(String(record?.attrs.refused), /must be JSON/);
    await sandbox.dispose();
  }
  assert.deepEqual(state.toJSON(), { n: 2 });
});

test('start and stop hooks run; emit is refused outside capability calls', async (t) => {
  const state = new MemoryStateStore();
  const sandbox = await load(
    `export default {
      async start(ctx) {
        await ctx.state.set('started', ctx.clock.now());
        try { ctx.emit({ kind: 'event', name: 'x' }); } catch (err) { await ctx.state.set('emit', err.message); }
      },
      async stop(ctx) { await ctx.state.set('stopped', true); },
      collect() { return []; },
    };`,
    {},
    { state, clock: fixedClock },
  );
  t.after(() => sandbox.dispose());
  await sandbox.start();
  await sandbox.stop();
  assert.deepEqual(state.toJSON(), {
    started: 1_700_000_000_000,
    emit: 'ctx.emit() is only available during collect, process, rule and action calls',
    stopped: true,
  });
});

test('a plugin that throws: E_PLUGIN_THREW with its message and stack line; the next call works', async (t) => {
  const sandbox = await load(`let n = 0;
export default {
  collect() {
    n++;
    if (n === 1) throw new TypeError('cannot read the thing');
    return [{ kind: 'event', name: 'ok' }];
  },
};`);
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.collect(), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_THREW'));
    assert.match(
      err.message,
      /^plugin "demo": collect\(\) threw TypeError: cannot read the thing \(at .*index\.js:5:/,
    );
    return true;
  });
  assert.equal((await sandbox.collect()).length, 1);
  assert.deepEqual(
    { calls: sandbox.stats().calls, errors: sandbox.stats().errors, alive: sandbox.alive },
    { calls: 2, errors: 1, alive: true },
  );
});

test('a capability the manifest does not declare cannot be called; a declared one must exist', async (t) => {
  const sandbox = await load('export default { collect() {}, process(r) { return r; } };');
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.process([]), (err) => isOutpostError(err, 'E_PLUGIN_CAPABILITY'));
  await assert.rejects(
    load('export default { collect() {} };', { capabilities: ['collect', 'rule'] }),
    (err) => {
      assert.ok(isOutpostError(err, 'E_PLUGIN_LOAD'));
      assert.match(err.message, /declares rule but the default export has no rule\(\)/);
      return true;
    },
  );
});

test('load errors name the plugin and the problem', async () => {
  const cases: [string, RegExp][] = [
    ['export default { collect() { ', /index\.js does not compile: SyntaxError/],
    [
      "import fs from 'node:fs';\nexport default { collect() {} };",
      /imports "node:fs"; a plugin bundle is one self-contained ESM file/,
    ],
    ['export const collect = () => [];', /no default export object/],
    ["throw new Error('bad top level');", /evaluating the bundle threw Error: bad top level/],
    ['for (;;) {}', /evaluating the bundle took longer than 300 ms/],
  ];
  for (const [code, message] of cases) {
    await assert.rejects(load(code, {}, { limits: { timeoutMs: 300 } }), (err) => {
      assert.ok(isOutpostError(err, 'E_PLUGIN_LOAD'), String(err));
      assert.match(err.message, /^plugin "demo" cannot be loaded: /);
      assert.match(err.message, message);
      return true;
    });
  }
});

test('an invalid config is refused before the isolate is created', async () => {
  await assert.rejects(
    load(
      'export default { collect() {} };',
      { configSchema: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] } },
      { config: { url: 5 } },
    ),
    (err) => {
      assert.ok(isOutpostError(err, 'E_PLUGIN_CONFIG'));
      assert.equal(err.message, 'plugin "demo": config.url: must be string');
      return true;
    },
  );
});

test('invalid output is refused with E_PLUGIN_OUTPUT naming the field', async (t) => {
  const sandbox = await load(`let mode = 0;
export default {
  collect(ctx) {
    mode++;
    if (mode === 1) return [{ kind: 'metric', name: 'no.value' }];
    if (mode === 2) ctx.emit({ kind: 'event', name: 'nested', attrs: { deep: { a: 1 } } });
    if (mode === 3) return [{ kind: 'event', name: 'x', extra: 1 }];
    if (mode === 4) return { kind: 'event', name: 'not a list' };
    if (mode === 5) return [{ kind: 'metric', name: 'nan', value: NaN }];
    if (mode === 6) return [{ kind: 'event', name: 'big', value: 10n }];
    return [];
  },
};`);
  t.after(() => sandbox.dispose());
  const expected = [
    /returned\[0\]\.value: a metric needs a value/,
    /emitted\[0\]\.attrs\.deep: must be a string, a finite number or a boolean/,
    /returned\[0\]\.extra: unknown field/,
    /collect\(\) must return an array of records or nothing/,
    /returned\[0\]\.value: must be a finite number/,
    /the returned value is not JSON: .*BigInt/,
  ];
  for (const message of expected) {
    await assert.rejects(sandbox.collect(), (err) => {
      assert.ok(isOutpostError(err, 'E_PLUGIN_OUTPUT'), String(err));
      assert.match(err.message, message);
      return true;
    });
  }
  assert.deepEqual(await sandbox.collect(), []);
});

test('emit copies the record at once: later changes to the object are not seen', async (t) => {
  const sandbox = await load(`export default {
    collect(ctx) {
      const r = { kind: 'metric', name: 'm', value: 1 };
      ctx.emit(r);
      r.value = 2;
      r.name = '';
    },
  };`);
  t.after(() => sandbox.dispose());
  const [record] = await sandbox.collect();
  assert.equal(record?.value, 1);
  assert.equal(record?.name, 'm');
});

test('dispose is idempotent and later calls are refused', async () => {
  const sandbox = await load('export default { collect() { return []; } };');
  const first = sandbox.dispose();
  assert.equal(sandbox.dispose(), first);
  await first;
  assert.equal(sandbox.alive, false);
  await assert.rejects(sandbox.collect(), (err) => isOutpostError(err, 'E_PLUGIN_CLOSED'));
});

test('dispose waits for the call in flight', async () => {
  const sandbox = await load(
    `export default { async collect(ctx) { await ctx.state.get('x'); return [{ kind: 'event', name: 'done' }]; } };`,
    {},
    {
      state: {
        get: () => new Promise((resolve) => setTimeout(() => resolve(null), 50)),
        set: () => {},
        delete: () => {},
      },
    },
  );
  const call = sandbox.collect();
  await sandbox.dispose();
  assert.equal((await call)[0]?.name, 'done');
});
