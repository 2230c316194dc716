import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseManifest, sha256Hex } from '@outpost/plugin-sdk/manifest';
import { pino } from 'pino';
import { type LoadSpec, PluginHost } from './index.ts';

const codeOf = (err: unknown) => (err as { code?: string }).code;

const CODE = `export default {
  process(records) {
    if (records[0]?.name === 'spin') for (;;) {}
    if (records[0]?.name === 'bad') return [records[1], { ...records[0], attrs: { host: { nested: true } } }];
    return records.map((r) => ({ ...r, name: 'seen' }));
  },
};`;

function spec(t: { after: (fn: () => void) => void }): LoadSpec {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-host-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const manifest = parseManifest(
    {
      name: 'echo',
      version: '1.0.0',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['process'],
    },
    'echo manifest',
  );
  fs.writeFileSync(path.join(dir, 'index.js'), CODE);
  return {
    name: 'echo',
    manifest,
    entryPath: path.join(dir, 'index.js'),
    sha256: sha256Hex(CODE),
    config: {},
    stateFile: path.join(dir, 'state.json'),
    limits: { timeoutMs: 30_000 },
  };
}

const record = (name: string) => ({ kind: 'metric', ts: 1, name, value: 1, attrs: {}, source: 'system' });

test('a killed host fails the calls in flight with E_PLUGIN_HOST_DIED and comes back', async (t) => {
  const load = spec(t);
  let restarted = 0;
  const host: PluginHost = new PluginHost({
    logger: pino({ level: 'silent' }),
    restartInitialMs: 10,
    onRestart: async () => {
      restarted++;
      await host.load(load);
    },
  });
  t.after(() => host.close());
  await host.start();
  await host.load(load);
  assert.deepEqual(
    ((await host.call('echo', 'process', [record('a')])) as { name: string }[]).map((r) => r.name),
    ['seen'],
  );
  const stats = await host.stats();
  assert.equal(stats.echo?.alive, true);
  assert.equal(stats.echo?.calls, 1);

  const spinning = host.call('echo', 'process', [record('spin')]);
  const pid = host.pid;
  assert.ok(pid !== undefined);
  process.kill(pid, 'SIGKILL');
  await assert.rejects(spinning, (err) => codeOf(err) === 'E_PLUGIN_HOST_DIED');
  await assert.rejects(host.stats(), (err) => codeOf(err) === 'E_PLUGIN_HOST_DIED');

  const deadline = Date.now() + 15_000;
  while (restarted === 0 || host.pid === pid) {
    assert.ok(Date.now() < deadline, 'the host restarts');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await host.start();
  assert.equal(host.restarts, 1);
  assert.equal(((await host.call('echo', 'process', [record('b')])) as unknown[]).length, 1);
});

test('records cross the host as JSON and are checked in the daemon: a bad one fails the call naming the plugin and field', async (t) => {
  const host = new PluginHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  await host.start();
  await host.load(spec(t));
  const pid = host.pid;
  await assert.rejects(host.call('echo', 'process', [record('bad'), record('ok')]), (err) => {
    assert.equal(codeOf(err), 'E_PLUGIN_OUTPUT');
    assert.match(
      (err as Error).message,
      /^plugin "echo": process\(\) output refused: returned\[1\]\.attrs\.host: must be a string, a finite number or a boolean$/,
    );
    return true;
  });
  const out = await host.call('echo', 'process', [{ ...record('a'), ts: undefined }]);
  assert.equal(host.pid, pid, 'the plugin host kept running');
  assert.equal(out.length, 1);
  assert.equal(Object.getPrototypeOf(out[0]), Object.prototype);
  assert.equal(out[0]?.source, 'system', 'process plugins keep sources');
  assert.ok(typeof out[0]?.ts === 'number' && out[0].ts > 1, 'a missing ts is completed');
});

test('a bad sha256 refuses the load; close() is idempotent and later requests fail clearly', async (t) => {
  const load = spec(t);
  const host = new PluginHost({ logger: pino({ level: 'silent' }) });
  await host.start();
  await assert.rejects(host.load({ ...load, sha256: '0'.repeat(64) }), (err) => {
    assert.equal(codeOf(err), 'E_PLUGIN_SHA256');
    assert.match((err as Error).message, /plugin "echo".*changed since it was installed/);
    return true;
  });
  await assert.rejects(host.call('echo', 'process', []), (err) => codeOf(err) === 'E_PLUGIN_NOT_LOADED');
  await host.load(load);
  const pid = host.pid;
  assert.ok(pid !== undefined);
  const closing = host.close();
  assert.equal(host.close(), closing);
  await closing;
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
  await assert.rejects(host.stats(), (err) => codeOf(err) === 'E_PLUGIN_HOST_CLOSED');
  await assert.rejects(host.start(), (err) => codeOf(err) === 'E_PLUGIN_HOST_CLOSED');
});

test('close() during the restart backoff does not wait for the restart', async () => {
  const host = new PluginHost({ logger: pino({ level: 'silent' }), restartInitialMs: 600_000 });
  await host.start();
  const pid = host.pid;
  assert.ok(pid !== undefined);
  process.kill(pid, 'SIGKILL');
  await assert.rejects(host.stats(), (err) => codeOf(err) === 'E_PLUGIN_HOST_DIED');
  await host.close();
  assert.equal(host.pid, undefined);
  assert.equal(host.restarts, 0);
});

test('the host process runs with isolated-vm flag --no-node-snapshot and a 2 MB young generation', async () => {
  const host = new PluginHost({ logger: pino({ level: 'silent' }) });
  try {
    await host.start();
    const argv = fs.readFileSync(`/proc/${host.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--no-node-snapshot'), argv.join(' '));
    assert.ok(argv.includes('--max-semi-space-size=2'), argv.join(' '));
  } finally {
    await host.close();
  }
});

// The plugin host loads undici and node:tls on a plugin's first http.request(), not at start.
test('a plugin with permissions.http makes its requests from the plugin host', async (t) => {
  const server = http.createServer((req, res) => res.writeHead(req.url === '/down' ? 503 : 200).end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const code = `export default {
  async collect(ctx) {
    const up = await ctx.http.request({ url: '${origin}/' });
    const down = await ctx.http.request({ url: '${origin}/down' });
    return [{ kind: 'metric', name: 'up', value: up.status }, { kind: 'metric', name: 'down', value: down.status }];
  },
};`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-host-http-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'index.js'), code);
  const manifest = parseManifest(
    {
      name: 'fetcher',
      version: '1.0.0',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['collect'],
      permissions: { http: [origin] },
    },
    'fetcher manifest',
  );
  const host = new PluginHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  await host.start();
  await host.load({
    name: 'fetcher',
    manifest,
    entryPath: path.join(dir, 'index.js'),
    sha256: sha256Hex(code),
    config: {},
    stateFile: path.join(dir, 'state.json'),
  });
  const records = (await host.call('fetcher', 'collect')) as { name: string; value: number }[];
  assert.deepEqual(
    records.map((r) => [r.name, r.value]),
    [
      ['up', 200],
      ['down', 503],
    ],
  );
});
