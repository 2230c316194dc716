import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

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
  const pluginHost = undiciLoadedBy([import.meta.resolve('@outpost/plugin-sdk/sandbox')]);
  assert.deepEqual(pluginHost, { index: false, bundled: false });
});

/**
 * Every module the plugin-host child resolves while it loads and runs a plugin, recorded by a
 * resolve hook that the daemon's --import passes on to the child.
 */
function pluginHostModules(): { urls: string[]; output: unknown } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-host-modules-'));
  try {
    const hook = path.join(dir, 'hook.mjs');
    fs.writeFileSync(
      hook,
      `import fs from 'node:fs';
      import { registerHooks } from 'node:module';
      const urls = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r; } });
      process.on('exit', () => fs.writeFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.json', JSON.stringify(urls)));`,
    );
    fs.writeFileSync(
      path.join(dir, 'index.js'),
      'export default { process(records) { return records.map((r) => ({ ...r, name: "seen" })); } };',
    );
    const script = `
      import { parseManifest, readPluginPackage, validatePluginConfig } from ${JSON.stringify(import.meta.resolve('@outpost/plugin-sdk/manifest'))};
      import { PluginHost } from ${JSON.stringify(new URL('../plugins/host.ts', import.meta.url).href)};
      const dir = ${JSON.stringify(dir)};
      const manifest = parseManifest({
        name: 'echo', version: '1.0.0', apiVersion: 1, entry: 'index.js', capabilities: ['process'],
        configSchema: { type: 'object', properties: { tag: { type: 'string', default: 'x' } } },
      }, 'test');
      const { readFileSync } = await import('node:fs');
      const { createHash } = await import('node:crypto');
      const sha256 = createHash('sha256').update(readFileSync(dir + '/index.js')).digest('hex');
      const quiet = { debug() {}, info() {}, warn() {}, error() {} };
      const host = new PluginHost({ logger: quiet });
      await host.start();
      const pid = host.pid;
      await host.load({ name: 'echo', manifest, entryPath: dir + '/index.js', sha256,
        config: validatePluginConfig(manifest, {}), stateFile: dir + '/state.json' });
      const output = await host.call('echo', 'process', [{ kind: 'metric', ts: 1, name: 'm', value: 1, attrs: {}, source: 's' }]);
      await host.close();
      process.stdout.write(JSON.stringify({ pid, output }));`;
    // A file, not -e: the child is forked with the daemon's execArgv, which would carry the script.
    const daemon = path.join(dir, 'daemon.mjs');
    fs.writeFileSync(daemon, script);
    const { pid, output } = JSON.parse(
      execFileSync(
        process.execPath,
        ['--conditions=outpost-source', `--import=${pathToFileURL(hook).href}`, daemon],
        { encoding: 'utf8', timeout: 60_000 },
      ),
    ) as { pid: number; output: unknown };
    return { urls: JSON.parse(fs.readFileSync(path.join(dir, `${pid}.json`), 'utf8')), output };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// zod, ajv and semver cost the plugin host about 20 MB of RSS (docs/operations.md, Idle cost): the
// daemon parses the manifest and validates the config, and sends both in the LoadSpec. undici and
// node:tls, about 8 MB more, load only with a plugin's first http.request().
test('the plugin host loads neither zod, ajv, semver nor (for a plugin without http) undici', () => {
  const { urls, output } = pluginHostModules();
  assert.deepEqual(
    (output as { name: string }[]).map((r) => r.name),
    ['seen'],
    'the plugin ran',
  );
  assert.ok(
    urls.some((url) => url.endsWith('/plugin-sdk/src/sandbox/sandbox.ts')),
    'the hook saw the sandbox load',
  );
  const heavy = urls.filter(
    (url) => /[\\/]node_modules[\\/](zod|ajv|semver|undici)[\\/]/.test(url) || url === 'node:tls',
  );
  assert.deepEqual(heavy, []);
});
