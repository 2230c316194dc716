import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  isOutpostError,
  parseManifest,
  readPluginPackage,
  sha256File,
  sha256Hex,
  validatePluginConfig,
} from './index.ts';

const base = {
  name: 'http-check',
  version: '1.2.3',
  apiVersion: 1,
  entry: 'dist/index.js',
  capabilities: ['collect'],
};

function problem(json: unknown): string {
  try {
    parseManifest(json, 'outpost-plugin.json');
  } catch (err) {
    assert.ok(isOutpostError(err, 'E_PLUGIN_MANIFEST'), String(err));
    return err.message;
  }
  assert.fail('the manifest was accepted');
}

test('a minimal manifest gets its defaults; origins are normalized', () => {
  const manifest = parseManifest(
    { ...base, permissions: { http: ['https://API.example.com:443', 'http://127.0.0.1:8080/'] } },
    'outpost-plugin.json',
  );
  assert.deepEqual(manifest, {
    ...base,
    permissions: { http: ['https://api.example.com', 'http://127.0.0.1:8080'], files: [] },
    configSchema: { type: 'object', additionalProperties: false },
    collectIntervalMs: 60_000,
  });
});

test('manifest errors name the file and the field', () => {
  const cases: [unknown, string][] = [
    [
      { ...base, permissions: { http: ['https://api.example.com/v1'] } },
      'outpost-plugin.json: permissions.http[0]: must be an origin like https://host:port (no path)',
    ],
    [{ ...base, name: 'Bad Name' }, 'outpost-plugin.json: name: must be an npm-like package name'],
    [{ ...base, version: '1.2' }, 'outpost-plugin.json: version: must be a semver version like 1.2.3'],
    [{ ...base, apiVersion: 2 }, 'outpost-plugin.json: apiVersion: must be 1'],
    [
      { ...base, capabilities: ['collect', 'teleport'] },
      'outpost-plugin.json: capabilities[1]: must be one of collect',
    ],
    [{ ...base, capabilities: [] }, 'outpost-plugin.json: capabilities: must list at least one'],
    [{ ...base, entry: '../outside.js' }, 'outpost-plugin.json: entry: must be a relative path'],
    [{ ...base, entry: undefined }, 'outpost-plugin.json: entry: is required'],
    [
      { ...base, permissions: { files: ['var/log/*.log'] } },
      'outpost-plugin.json: permissions.files[0]: must be an absolute glob',
    ],
    [{ ...base, permissions: { network: true } }, 'outpost-plugin.json: permissions.network: unknown field'],
    [{ ...base, extra: 1 }, 'outpost-plugin.json: extra: unknown field'],
    [
      { ...base, configSchema: { type: 'array' } },
      'outpost-plugin.json: configSchema.type: must be "object"',
    ],
    [
      { ...base, configSchema: { type: 'object', propertes: {} } },
      'outpost-plugin.json: configSchema: is not a usable JSON Schema: strict mode: unknown keyword: "propertes"',
    ],
    [{ ...base, collectIntervalMs: 10 }, 'outpost-plugin.json: collectIntervalMs: must be >= 1000'],
    ['not an object', 'outpost-plugin.json: must be object'],
  ];
  for (const [json, expected] of cases) {
    const message = problem(json);
    assert.ok(message.startsWith(expected), `${message}\n  should start with\n${expected}`);
  }
});

test('config: defaults applied on a copy; errors name the config field', () => {
  const manifest = parseManifest(
    {
      ...base,
      configSchema: {
        type: 'object',
        properties: {
          url: { type: 'string', format: 'uri' },
          intervalMs: { type: 'integer', minimum: 1000, default: 30_000 },
          mode: { enum: ['fast', 'slow'] },
          targets: { type: 'array', items: { type: 'object', properties: { host: { type: 'string' } } } },
        },
        required: ['url'],
        additionalProperties: false,
      },
    },
    'outpost-plugin.json',
  );
  const given = { url: 'https://example.com' };
  assert.deepEqual(validatePluginConfig(manifest, given), { url: 'https://example.com', intervalMs: 30_000 });
  assert.deepEqual(given, { url: 'https://example.com' }, 'the caller keeps its object');

  const messageOf = (config: unknown) => {
    try {
      validatePluginConfig(manifest, config);
    } catch (err) {
      assert.ok(isOutpostError(err, 'E_PLUGIN_CONFIG'));
      return err.message;
    }
    assert.fail('the config was accepted');
  };
  assert.equal(messageOf({}), 'plugin "http-check": config.url: is required');
  assert.equal(
    messageOf({ url: 'u', intervalMs: 5, urll: 1 }),
    'plugin "http-check": config.urll: unknown field; config.intervalMs: must be >= 1000',
  );
  assert.equal(
    messageOf({ url: 'u', mode: 'x' }),
    'plugin "http-check": config.mode: must be one of "fast", "slow"',
  );
  assert.equal(
    messageOf({ url: 'u', targets: [{ host: 1 }] }),
    'plugin "http-check": config.targets[0].host: must be string',
  );
});

test('readPluginPackage: manifest and bundle from a directory, with the bundle sha256', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-pkg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const code = 'export default { collect() { return []; } };\n';
  fs.writeFileSync(path.join(dir, 'outpost-plugin.json'), JSON.stringify(base));
  await assert.rejects(readPluginPackage(dir), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_LOAD'));
    assert.match(
      err.message,
      /plugin "http-check": entry dist\/index.js not found at .* \(build the plugin first\)/,
    );
    return true;
  });
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'dist', 'index.js'), code);
  for (const where of [dir, path.join(dir, 'outpost-plugin.json')]) {
    const pkg = await readPluginPackage(where);
    assert.equal(pkg.code, code);
    assert.equal(pkg.manifest.name, 'http-check');
    assert.equal(pkg.dir, fs.realpathSync(dir));
    assert.equal(pkg.codeSha256, sha256Hex(code));
    assert.equal(await sha256File(pkg.entryPath), pkg.codeSha256);
  }

  fs.rmSync(path.join(dir, 'dist', 'index.js'));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-pkg-out-'));
  t.after(() => fs.rmSync(outside, { recursive: true, force: true }));
  fs.writeFileSync(path.join(outside, 'evil.js'), code);
  fs.symlinkSync(path.join(outside, 'evil.js'), path.join(dir, 'dist', 'index.js'));
  await assert.rejects(readPluginPackage(dir), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_MANIFEST'));
    assert.match(err.message, /outpost-plugin\.json: entry: resolves outside the plugin directory/);
    return true;
  });

  fs.writeFileSync(path.join(dir, 'outpost-plugin.json'), '{ not json');
  await assert.rejects(readPluginPackage(dir), (err) => {
    assert.ok(isOutpostError(err, 'E_PLUGIN_MANIFEST'));
    assert.match(err.message, /outpost-plugin\.json: is not valid JSON/);
    return true;
  });
});
