import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FakeClock, loadPlugin, MemoryStateStore } from './index.ts';

// What tsup produces from a plugin's src/index.ts: one ESM file, the SDK's definePlugin inlined.
const BUNDLE = `
function definePlugin(def) { return def; }
var index_default = definePlugin({
  async start(ctx) { ctx.log.info('started', { url: ctx.config.url }); },
  async collect(ctx) {
    const res = await ctx.http.request({ url: ctx.config.url });
    const runs = ((await ctx.state.get('runs')) ?? 0) + 1;
    await ctx.state.set('runs', runs);
    ctx.emit({ kind: 'metric', name: 'probe.status', value: res.status, unit: '1' });
    return [{ kind: 'metric', name: 'probe.runs', value: runs }];
  },
  async rule(records, ctx) {
    const high = records.some((r) => r.name === 'cpu' && r.value > ctx.config.threshold);
    const since = await ctx.state.get('since');
    if (!high) { await ctx.state.delete('since'); return []; }
    if (since === undefined) { await ctx.state.set('since', ctx.clock.now()); return []; }
    if (ctx.clock.now() - since < 60000) return [];
    return [{ kind: 'alert', name: 'cpu.high', attrs: { state: 'firing', severity: 'warning' } }];
  },
  async stop(ctx) { await ctx.state.set('stopped', true); },
});
export { index_default as default };
`;

function writePlugin(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-harness-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'dist', 'index.js'), BUNDLE);
  fs.writeFileSync(
    path.join(dir, 'outpost-plugin.json'),
    JSON.stringify({
      name: 'probe',
      version: '0.1.0',
      apiVersion: 1,
      entry: 'dist/index.js',
      capabilities: ['collect', 'rule'],
      permissions: { http: ['https://status.example.com'] },
      configSchema: {
        type: 'object',
        properties: { url: { type: 'string' }, threshold: { type: 'number', default: 90 } },
        required: ['url'],
      },
    }),
  );
  return dir;
}

test('harness: a built plugin runs with config, permissions pointed at a local server, state and logs', async (t) => {
  const server = http.createServer((_req, res) => res.writeHead(204).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state = new MemoryStateStore();
  const plugin = await loadPlugin(writePlugin(t), {
    config: { url: `${origin}/health` },
    permissions: { http: [origin] },
    state,
  });
  assert.deepEqual(
    plugin.logs.map((l) => [l.level, l.message, l.attrs]),
    [['info', 'started', { url: `${origin}/health` }]],
  );
  const first = await plugin.collect();
  assert.deepEqual(
    first.map((r) => [r.name, r.value, r.ts, r.source]),
    [
      ['probe.runs', 1, plugin.clock.now(), 'plugin:probe'],
      ['probe.status', 204, plugin.clock.now(), 'plugin:probe'],
    ],
  );
  plugin.clock.advance(30_000);
  const [runs] = await plugin.collect();
  assert.equal(runs?.value, 2);
  assert.equal(runs?.ts, Date.UTC(2025, 0, 1) + 30_000);
  assert.equal(plugin.emitted.length, 4);
  await plugin.close();
  await plugin.close();
  assert.deepEqual(state.toJSON(), { runs: 2, stopped: true });
});

test('harness: a rule driven by the fake clock fires after its duration', async (t) => {
  const clock = new FakeClock(1_000_000);
  await using plugin = await loadPlugin(path.join(writePlugin(t), 'outpost-plugin.json'), {
    config: { url: 'https://status.example.com/' },
    clock,
  });
  const hot = [{ kind: 'metric' as const, name: 'cpu', value: 95 }];
  assert.deepEqual(await plugin.rule(hot), []);
  clock.advance(59_000);
  assert.deepEqual(await plugin.rule(hot), []);
  clock.advance(1_000);
  const alerts = await plugin.rule(hot);
  assert.deepEqual(alerts, [
    {
      kind: 'alert',
      ts: 1_060_000,
      name: 'cpu.high',
      attrs: { state: 'firing', severity: 'warning' },
      source: 'plugin:probe',
    },
  ]);
  assert.deepEqual(await plugin.rule([{ kind: 'metric', name: 'cpu', value: 10 }]), []);
});

test('harness: the manifest origin is still enforced without an override, and config is validated', async (t) => {
  const dir = writePlugin(t);
  await assert.rejects(loadPlugin(dir, { config: {} }), /config\.url: is required/);
  await using plugin = await loadPlugin(dir, { config: { url: 'http://127.0.0.1:1/' } });
  await assert.rejects(plugin.collect(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_PLUGIN_PERMISSION');
    return true;
  });
});
