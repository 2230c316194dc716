import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from '../manifest/index.ts';
import { isOutpostError, PluginSandbox, type PluginSandboxOptions, type SandboxLimits } from './index.ts';

// Each hostile plugin also answers mode 'ok', so a test can check the sandbox still works after.
async function load(
  body: string,
  limits: Partial<SandboxLimits> = {},
  options: Partial<PluginSandboxOptions> = {},
) {
  const manifest = parseManifest(
    {
      name: 'hostile',
      version: '0.0.1',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['collect', 'process'],
    },
    'test manifest',
  );
  const code = `let mode = 'attack';
export default {
  async process(records) { mode = records[0].name; return []; },
  async collect(ctx) {
    if (mode === 'ok') return [{ kind: 'event', name: 'still.working' }];
    ${body}
  },
};`;
  return PluginSandbox.load({ manifest, code, limits: { timeoutMs: 400, ...limits }, ...options });
}

async function setMode(sandbox: PluginSandbox, mode: string) {
  await sandbox.process([{ kind: 'event', ts: 1, name: mode, attrs: {}, source: 'test' }]);
}

async function assertStillWorks(sandbox: PluginSandbox) {
  await setMode(sandbox, 'ok');
  assert.deepEqual(
    (await sandbox.collect()).map((r) => r.name),
    ['still.working'],
  );
  assert.equal(sandbox.alive, true);
}

const isCode = (code: string) => (err: unknown) => {
  assert.ok(isOutpostError(err, code), `expected ${code}, got ${String(err)}`);
  return true;
};

for (const [name, body] of [
  ['an infinite loop', 'for (;;) {}'],
  ['a microtask loop', 'for (;;) await null;'],
  ['a promise that never settles', 'await new Promise(() => {});'],
  ['a loop after a host call', "await ctx.state.get('x'); for (;;) {}"],
  ['a getter that loops while the output is read', 'return [{ kind: "event", get name() { for (;;) {} } }];'],
] as const) {
  test(`${name}: E_PLUGIN_TIMEOUT and the sandbox keeps working`, async (t) => {
    const sandbox = await load(body);
    t.after(() => sandbox.dispose());
    await assert.rejects(sandbox.collect(), (err) => {
      isCode('E_PLUGIN_TIMEOUT')(err);
      assert.match((err as Error).message, /plugin "hostile": collect\(\) did not finish within 400 ms/);
      return true;
    });
    await assertStillWorks(sandbox);
    assert.equal(sandbox.stats().timeouts, 1);
  });
}

test('a heap bomb: E_PLUGIN_MEMORY, the sandbox is dead, this process and new sandboxes are fine', async () => {
  const sandbox = await load(
    "const keep = []; for (;;) keep.push({ a: Math.random(), b: 'x'.repeat(64) + Math.random() });",
    { memoryLimitMb: 16, timeoutMs: 20_000 },
  );
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_MEMORY')(err);
    assert.match((err as Error).message, /memory limit of 16 MB/);
    return true;
  });
  assert.equal(sandbox.alive, false);
  assert.equal(sandbox.deathReason?.code, 'E_PLUGIN_MEMORY');
  await assert.rejects(sandbox.collect(), isCode('E_PLUGIN_DEAD'));
  assert.equal(sandbox.stats().errors, 1);
  await sandbox.dispose();

  const fresh = await load('return [];');
  await assertStillWorks(fresh);
  await fresh.dispose();
});

test('an ArrayBuffer bomb is stopped and the host keeps running', async () => {
  const sandbox = await load('const keep = []; for (;;) keep.push(new ArrayBuffer(8 * 1024 * 1024));', {
    memoryLimitMb: 16,
    timeoutMs: 20_000,
  });
  await assert.rejects(sandbox.collect(), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_THREW') || isOutpostError(err, 'E_PLUGIN_MEMORY'), String(err));
    return true;
  });
  if (sandbox.alive) await assertStillWorks(sandbox);
  await sandbox.dispose();
});

test('CPU budget: a call is stopped when the window budget runs out, then calls are refused', async (t) => {
  const sandbox = await load('for (;;) {}', { cpuBudgetMs: 150, cpuWindowMs: 60_000, timeoutMs: 10_000 });
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_CPU')(err);
    assert.match((err as Error).message, /used up the CPU budget of 150 ms per 60000 ms/);
    return true;
  });
  assert.equal(sandbox.alive, true, 'stopping on the budget does not need to dispose the isolate');
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_CPU')(err);
    assert.match((err as Error).message, /refused: \d+ ms of CPU used of a 150 ms budget; retry in \d+ ms/);
    return true;
  });
  assert.ok(sandbox.stats().cpuTimeMs > 0);
});

test('no Node, no host objects: require, process, fetch, import() and constructor tricks give nothing', async (t) => {
  const sandbox = await load(`
    const probe = (f) => { try { const v = f(); return v === undefined ? 'undefined' : typeof v; } catch (err) { return 'threw ' + err.name; } };
    let dynamicImport;
    try { await import('node:fs'); dynamicImport = 'imported'; } catch (err) { dynamicImport = 'refused'; }
    return [{ kind: 'event', name: 'probe', attrs: {
      require: typeof require,
      process: typeof process,
      fetch: typeof fetch,
      setTimeout: typeof setTimeout,
      Buffer: typeof Buffer,
      WebAssembly: typeof WebAssembly,
      SharedArrayBuffer: typeof SharedArrayBuffer,
      Atomics: typeof Atomics,
      functionCtor: probe(() => globalThis.constructor.constructor('return process')()),
      viaHostFunction: probe(() => ctx.log.info.constructor('return process')()),
      viaEmit: probe(() => ctx.emit.constructor('return require')()),
      viaStatePromise: probe(() => ctx.state.get('x').constructor.constructor('return process')()),
      dynamicImport,
    } }];`);
  t.after(() => sandbox.dispose());
  const [record] = await sandbox.collect();
  assert.deepEqual(record?.attrs, {
    require: 'undefined',
    process: 'undefined',
    fetch: 'undefined',
    setTimeout: 'undefined',
    Buffer: 'undefined',
    WebAssembly: 'undefined',
    SharedArrayBuffer: 'undefined',
    Atomics: 'undefined',
    functionCtor: 'threw ReferenceError',
    viaHostFunction: 'threw ReferenceError',
    viaEmit: 'threw ReferenceError',
    viaStatePromise: 'threw ReferenceError',
    dynamicImport: 'refused',
  });
});

test('prototype tricks on returned objects do not reach the host', async (t) => {
  const sandbox = await load(`
    Object.prototype.toJSON = undefined;
    Array.prototype.evil = 'yes';
    return JSON.parse('[{"kind":"event","name":"x","__proto__":{"polluted":true}}]');`);
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_OUTPUT')(err);
    assert.match((err as Error).message, /returned\[0\]\.__proto__: unknown field/);
    return true;
  });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(([] as unknown as Record<string, unknown>).evil, undefined);
});

test("prototype tricks on the sandbox's own JSON give a clear error naming the plugin, never a host crash", async (t) => {
  const sandbox = await load(`
    if (mode === 'restore') {
      delete Object.prototype.toJSON;
      throw new Error('boom');
    }
    // Arrays pass, so process() still works; the status of a failed call is built from an object.
    Object.prototype.toJSON = function () {
      if (Array.isArray(this)) return this;
      return mode === 'lie' ? { ok: true, in: 'many' } : undefined;
    };
    throw new Error('boom');`);
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_OUTPUT')(err);
    assert.match(
      (err as Error).message,
      /^plugin "hostile": collect\(\) output refused: the call status is not readable/,
    );
    return true;
  });
  await setMode(sandbox, 'lie');
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_OUTPUT')(err);
    assert.match(
      (err as Error).message,
      /^plugin "hostile": collect\(\) output refused: the sandbox returned no output/,
    );
    return true;
  });
  const stats = sandbox.stats();
  assert.equal(typeof stats.recordsIn, 'number');
  assert.ok(Number.isFinite(stats.recordsIn));
  await setMode(sandbox, 'restore');
  await assert.rejects(sandbox.collect(), isCode('E_PLUGIN_THREW'));
  await assertStillWorks(sandbox);
});

test('a flood of emits is cut at the record limit with E_PLUGIN_OUTPUT, even when the plugin catches', async (t) => {
  const sandbox = await load(
    "try { for (let i = 0; ; i++) ctx.emit({ kind: 'event', name: 'e' + i }); } catch {} return [];",
    { maxRecordsPerCall: 1000 },
  );
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.collect(), (err) => {
    isCode('E_PLUGIN_OUTPUT')(err);
    assert.match((err as Error).message, /more than 1000 records in one call/);
    return true;
  });
  await assertStillWorks(sandbox);
});

test('a flood of log lines is capped per call', async (t) => {
  const lines: string[] = [];
  const sandbox = await load(
    "for (let i = 0; i < 5000; i++) ctx.log.info('line ' + i); return [];",
    // 5000 host calls: the 400 ms these tests give a call is about timeouts, not this cap.
    { maxLogLinesPerCall: 10, timeoutMs: 10_000 },
    { onLog: (entry) => lines.push(entry.message) },
  );
  t.after(() => sandbox.dispose());
  await sandbox.collect();
  assert.equal(lines.length, 10);
});

test('output bigger than the byte limit is refused', async (t) => {
  const sandbox = await load(
    "return [{ kind: 'log', name: 'big', body: 'x'.repeat(60000) }, { kind: 'log', name: 'big', body: 'x'.repeat(60000) }];",
    {
      maxOutputBytes: 100_000,
    },
  );
  t.after(() => sandbox.dispose());
  await assert.rejects(sandbox.collect(), isCode('E_PLUGIN_OUTPUT'));
});
