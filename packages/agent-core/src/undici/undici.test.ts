import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

/** What loading these modules in a fresh node pulls in: undici's index, Node's own bundled undici. */
function undiciLoadedBy(modules: string[]): { index: boolean; bundled: boolean } {
  const script = `
    import { createRequire } from 'node:module';
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const cached = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(JSON.stringify({
      index: cached.some((file) => /[\\\\/]undici[\\\\/]index\\.js$/.test(file)),
      bundled: process.moduleLoadList.some((m) => m.includes('internal/deps/undici')),
    }));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );
}

// Each costs 6-10 MB of RSS in an idle process (docs/operations.md, Idle cost): an `import ... from
// 'undici'` or an ESM import of node:http in the daemon or the plugin host brings them back.
test('the daemon and the plugin host load neither undici index nor Node bundled undici', () => {
  const daemon = undiciLoadedBy([new URL('../lifecycle/index.ts', import.meta.url).href]);
  assert.deepEqual(daemon, { index: false, bundled: false });
  const pluginHost = undiciLoadedBy([
    import.meta.resolve('@outpost/plugin-sdk/sandbox'),
    import.meta.resolve('@outpost/plugin-sdk/manifest'),
  ]);
  assert.deepEqual(pluginHost, { index: false, bundled: false });
});
