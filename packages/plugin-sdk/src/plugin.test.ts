import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { parseManifest } from './manifest/index.ts';
import { alert, definePlugin, PLUGIN_API_VERSION } from './plugin.ts';
import { PluginSandbox } from './sandbox/index.ts';

// The root export is bundled into plugins: its code must run inside an isolate as it is.
test('the SDK root (definePlugin, alert) runs inside the sandbox without imports', async (t) => {
  for (const file of ['./plugin.ts', './record.ts', './index.ts']) {
    const imports = fs
      .readFileSync(new URL(file, import.meta.url), 'utf8')
      .split('\n')
      .filter(
        (line) => /^\s*(import|export .* from)\b/.test(line) && !/^\s*(import|export) type\b/.test(line),
      );
    assert.deepEqual(
      imports.filter((line) => !/from '\.\/(plugin|record)\.ts';$/.test(line)),
      [],
      `${file} imports only its sibling files`,
    );
  }
  // Node strips the types when it loads plugin.ts; toString() gives the JavaScript that tsup would bundle.
  const sdk = `const PLUGIN_API_VERSION = ${PLUGIN_API_VERSION};\n${definePlugin}\n${alert}`;
  const code = `${sdk}
export default definePlugin({
  rule(records) {
    return records.map((r) => alert({ name: r.name + '.alert', state: 'firing', severity: 'critical', attrs: { v: r.value }, body: 'api ' + PLUGIN_API_VERSION }));
  },
});`;
  const manifest = parseManifest(
    { name: 'root', version: '1.0.0', apiVersion: 1, entry: 'index.js', capabilities: ['rule'] },
    'test manifest',
  );
  const sandbox = await PluginSandbox.load({ manifest, code, clock: { now: () => 5 } });
  t.after(() => sandbox.dispose());
  assert.deepEqual(
    await sandbox.rule([{ kind: 'metric', ts: 1, name: 'cpu', value: 99, attrs: {}, source: 's' }]),
    [
      {
        kind: 'alert',
        ts: 5,
        name: 'cpu.alert',
        body: 'api 1',
        attrs: { v: 99, state: 'firing', severity: 'critical' },
        source: 'plugin:root',
      },
    ],
  );
});

test('definePlugin types: config is typed, emit-only collect and empty rules type-check', async () => {
  const def = definePlugin<{ threshold: number; url: string }>({
    collect(ctx) {
      ctx.emit({ kind: 'metric', name: 'threshold', value: ctx.config.threshold });
    },
    async rule(records, ctx) {
      if (records.length === 0) return;
      return records
        .filter((r) => (r.value ?? 0) > ctx.config.threshold)
        .map((r) => alert({ name: `${r.name}.high`, state: 'firing', severity: 'warning' }));
    },
    process: (records) => records.filter((r) => r.kind !== 'log'),
    async action(firing, ctx) {
      const res = await ctx.http.request({
        url: ctx.config.url,
        method: 'POST',
        body: JSON.stringify(firing),
      });
      ctx.log.info('posted', { status: res.status });
      await ctx.state.set('last', { name: firing.name, at: ctx.clock.now() });
    },
  });
  assert.deepEqual(Object.keys(def), ['collect', 'rule', 'process', 'action']);
});
