import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FileStateStore, type InstallPhase, PluginStore } from './index.ts';

// The SDK and agent-core each have their own OutpostError class: compare codes.
const codeOf = (err: unknown) => (err as { code?: string }).code;

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-plugins-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const CODE = (version: string) =>
  `export default { collect() { return [{ kind: 'event', name: 'v${version}' }]; } };\n`;

function writePlugin(
  dir: string,
  fields: Record<string, unknown> = {},
  code = CODE(String(fields.version ?? '1.0.0')),
) {
  fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
  const manifest = {
    name: 'demo',
    version: '1.0.0',
    apiVersion: 1,
    entry: 'dist/index.js',
    capabilities: ['collect'],
    configSchema: {
      type: 'object',
      properties: { target: { type: 'string', default: 'x' } },
      additionalProperties: false,
    },
    ...fields,
  };
  fs.writeFileSync(path.join(dir, 'outpost-plugin.json'), JSON.stringify(manifest));
  fs.writeFileSync(path.join(dir, 'dist/index.js'), code);
  fs.writeFileSync(path.join(dir, 'README.md'), 'not copied');
  return createHash('sha256').update(code).digest('hex');
}

test('install from a dir: manifest and entry copied, registry written, progress reported', async (t) => {
  const root = tmp(t);
  const src = path.join(root, 'src');
  const sha = writePlugin(src);
  const store = new PluginStore({ stateDir: path.join(root, 'state') });
  const phases: InstallPhase[] = [];
  const installed = await store.install(src, { expectedSha256: sha, onProgress: (p) => phases.push(p) });
  assert.deepEqual(phases, ['reading', 'verifying', 'copying', 'installed']);
  assert.equal(installed.dir, path.join(root, 'state/plugins/demo/1.0.0'));
  assert.deepEqual(fs.readdirSync(installed.dir).sort(), ['dist', 'outpost-plugin.json']);
  assert.equal(fs.readFileSync(path.join(installed.dir, 'dist/index.js'), 'utf8'), CODE('1.0.0'));
  const registry = JSON.parse(fs.readFileSync(path.join(root, 'state/plugins/registry.json'), 'utf8'));
  assert.equal(registry.plugins.demo.version, '1.0.0');
  assert.equal(registry.plugins.demo.sha256, sha);
  assert.equal(registry.plugins.demo.enabled, true);
  assert.deepEqual(registry.plugins.demo.config, { target: 'x' });
  assert.deepEqual(
    (await store.list()).map((p) => [p.name, p.version]),
    [['demo', '1.0.0']],
  );
  assert.equal((await store.get('demo'))?.sha256, sha);
  assert.equal(await store.get('nope'), undefined);
});

test('install from a .tgz, npm-pack layout and flat; an upgrade replaces the old version', async (t) => {
  const root = tmp(t);
  const store = new PluginStore({ stateDir: path.join(root, 'state') });
  writePlugin(path.join(root, 'v1/package'));
  execFileSync('tar', ['czf', path.join(root, 'v1.tgz'), '-C', path.join(root, 'v1'), 'package']);
  const phases: InstallPhase[] = [];
  const v1 = await store.install(path.join(root, 'v1.tgz'), { onProgress: (p) => phases.push(p) });
  assert.equal(phases[0], 'extracting');
  assert.equal(v1.version, '1.0.0');
  await store.setConfig('demo', { target: 'kept' });

  const sha2 = writePlugin(path.join(root, 'v2'), { version: '2.0.0' });
  execFileSync('tar', ['czf', path.join(root, 'v2.tgz'), '-C', path.join(root, 'v2'), '.']);
  const v2 = await store.install(path.join(root, 'v2.tgz'), { expectedSha256: sha2 });
  assert.equal(v2.version, '2.0.0');
  assert.deepEqual(v2.config, { target: 'kept' });
  assert.ok(fs.existsSync(v2.dir));
  assert.ok(!fs.existsSync(v1.dir), 'the old version is removed');
  assert.deepEqual(
    fs.readdirSync(path.join(root, 'state/plugins')).sort(),
    ['demo', 'registry.json'],
    'no staging folders left',
  );
});

test('a sha256 mismatch or a bad manifest is refused and the previous version stays', async (t) => {
  const root = tmp(t);
  const store = new PluginStore({ stateDir: path.join(root, 'state') });
  writePlugin(path.join(root, 'v1'));
  const v1 = await store.install(path.join(root, 'v1'));
  writePlugin(path.join(root, 'v2'), { version: '2.0.0' });
  await assert.rejects(store.install(path.join(root, 'v2'), { expectedSha256: 'ab'.repeat(32) }), (err) => {
    assert.equal(codeOf(err), 'E_PLUGIN_SHA256');
    assert.match((err as Error).message, /plugin "demo".*expected abab/);
    return true;
  });
  writePlugin(path.join(root, 'bad'), { version: 'one' });
  await assert.rejects(store.install(path.join(root, 'bad')), (err) => {
    assert.equal(codeOf(err), 'E_PLUGIN_MANIFEST');
    assert.match((err as Error).message, /version: must be a semver version/);
    return true;
  });
  fs.writeFileSync(path.join(root, 'junk.tgz'), 'not gzip');
  await assert.rejects(store.install(path.join(root, 'junk.tgz')), /E_PLUGIN_INSTALL|not a readable \.tgz/);
  const current = await store.get('demo');
  assert.equal(current?.version, '1.0.0');
  assert.equal(current?.sha256, v1.sha256);
  assert.ok(fs.existsSync(path.join(v1.dir, 'dist/index.js')));
  assert.ok(!fs.existsSync(path.join(root, 'state/plugins/demo/2.0.0')));
  const { pkg } = await store.read('demo');
  assert.equal(pkg.manifest.version, '1.0.0');
});

test('enable, disable, config (old kept on error) and remove (files and state)', async (t) => {
  const root = tmp(t);
  const store = new PluginStore({ stateDir: path.join(root, 'state') });
  writePlugin(path.join(root, 'src'));
  const installed = await store.install(path.join(root, 'src'));
  assert.equal((await store.disable('demo')).enabled, false);
  assert.equal((await store.get('demo'))?.enabled, false);
  assert.equal((await store.enable('demo')).enabled, true);
  assert.deepEqual((await store.setConfig('demo', { target: 'db' })).config, { target: 'db' });
  await assert.rejects(store.setConfig('demo', { target: 3 }), (err) => {
    assert.equal(codeOf(err), 'E_PLUGIN_CONFIG');
    assert.match((err as Error).message, /config\.target/);
    return true;
  });
  assert.deepEqual((await store.get('demo'))?.config, { target: 'db' });
  await assert.rejects(store.enable('ghost'), /E_PLUGIN_NOT_INSTALLED|"ghost" is not installed/);

  new FileStateStore({ file: installed.stateFile, plugin: 'demo' }).set('cursor', 7);
  assert.ok(fs.existsSync(installed.stateFile));
  await store.remove('demo');
  assert.equal(await store.get('demo'), undefined);
  assert.ok(!fs.existsSync(path.join(root, 'state/plugins/demo')));
  await assert.rejects(store.remove('demo'), /not installed/);
});

test('a fresh install whose config needs fields is installed disabled', async (t) => {
  const root = tmp(t);
  const store = new PluginStore({ stateDir: path.join(root, 'state') });
  writePlugin(path.join(root, 'src'), {
    configSchema: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
  });
  const installed = await store.install(path.join(root, 'src'));
  assert.equal(installed.enabled, false);
  await store.setConfig('demo', { url: 'http://127.0.0.1' });
  assert.equal((await store.enable('demo')).enabled, true);
});

test('FileStateStore: persists across instances, copies values, refuses to grow past its cap', (t) => {
  const root = tmp(t);
  const file = path.join(root, 'p/state.json');
  const a = new FileStateStore({ file, plugin: 'demo', maxBytes: 100 });
  const value = { n: 1 };
  a.set('obj', value);
  value.n = 2;
  assert.deepEqual(a.get('obj'), { n: 1 });
  a.set('gone', true);
  a.delete('gone');
  const b = new FileStateStore({ file, plugin: 'demo', maxBytes: 100 });
  assert.deepEqual(b.toJSON(), { obj: { n: 1 } });
  assert.throws(
    () => b.set('big', 'x'.repeat(200)),
    (err) => {
      assert.equal((err as { code?: string }).code, 'E_PLUGIN_STATE_FULL');
      assert.match((err as Error).message, /plugin "demo".*over the 100 bytes/);
      return true;
    },
  );
  assert.equal(b.get('big'), undefined);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { obj: { n: 1 } });
});
