import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import { sha256Hex } from '@outpost/plugin-sdk/manifest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import * as tar from 'tar';
import type { PluginsConfig } from '../config/index.ts';
import { PluginRuntime, PluginStore, registerPluginMetrics } from './index.ts';
import { COUNTER, COUNTER_SCHEMA, tempDir, until, writePlugin } from './test-fixtures.ts';

const logger = pino({ level: 'silent' });
const codeOf = (err: unknown) => (err as { code?: string }).code;

const COUNTER_MANIFEST = {
  capabilities: ['collect'],
  collectIntervalMs: 1000,
  configSchema: COUNTER_SCHEMA,
};
// Fires on every cpu metric above 90.
const RULE = `export default {
  rule(records) {
    return records
      .filter((r) => r.name === 'cpu' && r.value > 90)
      .map((r) => ({ kind: 'alert', name: 'cpu.high', attrs: { state: 'firing', severity: 'warning', value: r.value } }));
  },
};`;
// Records each alert it acts on as an event.
const ACTION = `export default {
  action(alert, ctx) {
    ctx.emit({ kind: 'event', name: 'acted', attrs: { alert: alert.name } });
  },
};`;
const SPIN = `export default { collect() { for (;;) {} } };`;

function pluginsConfig(dir: string, overrides: PluginsConfig['overrides'] = {}): PluginsConfig {
  return {
    enabled: true,
    dir,
    limits: {
      memory: 32 * 1024 * 1024,
      timeout: 2_000,
      cpu_budget: 10_000,
      cpu_window: 60_000,
      max_records_per_call: 10_000,
    },
    restart: { initial_backoff: 20, max_backoff: 100, quarantine_after: 3, failure_window: 60_000 },
    overrides,
  };
}

/** A runtime wired as the agent wires it: emit and enqueue land in `queued`, which is observed. */
function setup(
  t: { after: (fn: () => Promise<void> | void) => void },
  config: (dir: string) => PluginsConfig,
) {
  const root = tempDir(t, 'runtime');
  const queued: OutpostRecord[] = [];
  const enqueue = (records: OutpostRecord[]) => {
    queued.push(...records);
    runtime.observe(records);
    return true;
  };
  const runtime: PluginRuntime = new PluginRuntime({
    config: config(path.join(root, 'plugins')),
    logger,
    emit: async (records) => enqueue(records),
    enqueue,
    supervisor: { collectIntervalMs: 50, hostRestartInitialMs: 20 },
    statsIntervalMs: 100,
  });
  t.after(() => runtime.close());
  return { root, runtime, queued, enqueue };
}

const named = (records: OutpostRecord[], name: string) => records.filter((r) => r.name === name);

test('runtime: collect records are emitted; rule alerts are queued and run the action plugin; metrics per plugin', async (t) => {
  const { root, runtime, queued, enqueue } = setup(t, (dir) => pluginsConfig(dir));
  await runtime.start();
  await runtime.install(writePlugin(root, 'counter', COUNTER_MANIFEST, COUNTER));
  await runtime.install(writePlugin(root, 'cpu-rule', { capabilities: ['rule'] }, RULE));
  await runtime.install(writePlugin(root, 'notify', { capabilities: ['action'] }, ACTION));
  await until('counter records', () => named(queued, 'counter').length >= 2);
  assert.equal(named(queued, 'counter')[0]?.source, 'plugin:counter');

  enqueue([
    { kind: 'metric', ts: 1, name: 'cpu', value: 95, attrs: {}, source: 'system' },
    { kind: 'metric', ts: 1, name: 'cpu', value: 10, attrs: {}, source: 'system' },
  ]);
  const [alert] = await until('an alert', () => {
    const alerts = named(queued, 'cpu.high');
    return alerts.length > 0 ? alerts : undefined;
  });
  assert.deepEqual(alert?.attrs, { state: 'firing', severity: 'warning', value: 95 });
  assert.equal(alert?.source, 'plugin:cpu-rule');
  const [acted] = await until('the action ran', () => {
    const events = named(queued, 'acted');
    return events.length > 0 ? events : undefined;
  });
  assert.deepEqual(acted?.attrs, { alert: 'cpu.high' });
  assert.equal(named(queued, 'acted').length, 1, "an action's own output does not run actions again");

  await runtime.refreshStats();
  const list = runtime.list();
  assert.deepEqual(
    list.map((p) => [p.name, p.state, p.enabled, p.capabilities]),
    [
      ['counter', 'running', true, ['collect']],
      ['cpu-rule', 'running', true, ['rule']],
      ['notify', 'running', true, ['action']],
    ],
  );
  const rule = list.find((p) => p.name === 'cpu-rule');
  assert.equal(rule?.recordsOut, 1);
  assert.ok((rule?.recordsIn ?? 0) >= 3, 'the rule saw the two metrics, the counter and the action event');
  assert.ok((list[0]?.heapUsedBytes ?? 0) > 0);
  assert.ok(runtime.logs('counter').some((line) => line.message === 'counted'));
  assert.throws(
    () => runtime.logs('nope'),
    (err) => codeOf(err) === 'E_PLUGIN_NOT_INSTALLED',
  );

  const registry = new Registry();
  registerPluginMetrics(registry, () => runtime.list());
  const text = await registry.metrics();
  assert.match(text, /^outpost_agent_plugin_calls_total\{plugin="counter"\} [1-9]\d*$/m);
  assert.match(text, /^outpost_agent_plugin_records_out_total\{plugin="cpu-rule"\} 1$/m);
  assert.match(text, /^outpost_agent_plugin_info\{plugin="notify",version="1.0.0",state="running"\} 1$/m);
  assert.match(text, /^outpost_agent_plugin_heap_bytes\{plugin="counter"\} [1-9]\d*$/m);
});

test('runtime: config overrides apply at start and on applyConfig, keeping state; configure validates fields', async (t) => {
  const { root, runtime, queued } = setup(t, (dir) =>
    pluginsConfig(dir, { counter: { config: { metric: 'from-yaml' }, limits: {} } }),
  );
  // Installed before start, as a plugin already on disk when the agent boots.
  await new PluginStore({ dir: runtime.dir }).install(
    writePlugin(root, 'counter', COUNTER_MANIFEST, COUNTER),
  );
  await runtime.start();
  const first = await until('from-yaml records', () => named(queued, 'from-yaml')[0]);
  assert.equal(first.value, 1);
  assert.deepEqual(named(queued, 'counter'), [], 'it never ran with the registry config');
  assert.deepEqual((await runtime.describe('counter')).overriddenBy, ['config']);

  await assert.rejects(runtime.configure('counter', { metric: 7, extra: true }), (err) => {
    assert.equal(codeOf(err), 'E_PLUGIN_CONFIG');
    assert.match((err as Error).message, /config\.extra: unknown field; config\.metric: must be string/);
    return true;
  });
  assert.deepEqual(await runtime.configure('counter', { metric: 'by-hand' }), { metric: 'by-hand' });
  await until('by-hand records', () => named(queued, 'by-hand')[0]);

  await runtime.applyConfig(
    pluginsConfig(runtime.dir, { counter: { config: { metric: 'reloaded' }, limits: {} } }),
  );
  const reloaded = await until('reloaded records', () => named(queued, 'reloaded')[0]);
  const before = Math.max(...queued.filter((r) => r.source === 'plugin:counter').map((r) => r.value ?? 0));
  assert.ok((reloaded.value ?? 0) > 1 && (reloaded.value ?? 0) <= before, 'the counter kept its state');

  await runtime.applyConfig(
    pluginsConfig(runtime.dir, { counter: { enabled: false, config: { metric: 'reloaded' }, limits: {} } }),
  );
  assert.equal(runtime.list()[0]?.state, 'disabled');
  assert.equal(runtime.list()[0]?.enabled, false);
});

test('runtime: a spinning plugin is quarantined; pauseHeaviest and resumePaused; tgz bytes install; remove; close', async (t) => {
  const { root, runtime, queued } = setup(t, (dir) =>
    pluginsConfig(dir, { spin: { limits: { timeout: 100 } } }),
  );
  await runtime.start();
  await runtime.install(writePlugin(root, 'counter', COUNTER_MANIFEST, COUNTER));
  await runtime.install(writePlugin(root, 'spin', { capabilities: ['collect'] }, SPIN));
  const quarantined = await until('spin quarantined', () =>
    runtime.list().find((p) => p.name === 'spin' && p.state === 'quarantined'),
  );
  assert.match(quarantined.reason ?? '', /timed out|E_PLUGIN_TIMEOUT|100 ms/i);
  assert.ok(runtime.logs('spin').some((l) => l.message.startsWith('[supervisor] quarantined')));
  const restarted = await runtime.restart('spin');
  assert.equal(restarted.state, 'running', 'restart clears the quarantine');
  assert.equal(restarted.reason, null);
  assert.ok(restarted.restarts > quarantined.restarts);
  assert.equal((await runtime.disable('spin')).state, 'disabled');
  const counted = named(queued, 'counter').length;
  await until('counter keeps going', () => named(queued, 'counter').length > counted + 2);

  assert.equal(runtime.pauseHeaviest(), 'counter', 'the only running plugin');
  await until('counter paused', () =>
    runtime.list().find((p) => p.name === 'counter' && p.state === 'paused'),
  );
  assert.equal(runtime.pauseHeaviest(), undefined, 'nothing else runs');
  assert.deepEqual(runtime.resumePaused(), ['counter']);
  await until('counter running', () =>
    runtime.list().find((p) => p.name === 'counter' && p.state === 'running'),
  );

  // A .tgz as bytes (what the fleet downloads), checked against its sha256.
  const code = 'export default { process(records) { return records.filter((r) => r.name !== "noise"); } };';
  const pkg = path.join(root, 'pack', 'package');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(
    path.join(pkg, 'outpost-plugin.json'),
    JSON.stringify({
      name: 'denoise',
      version: '2.0.0',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['process'],
    }),
  );
  fs.writeFileSync(path.join(pkg, 'index.js'), code);
  const tgz = path.join(root, 'denoise.tgz');
  await tar.c({ gzip: true, file: tgz, cwd: path.dirname(pkg) }, ['package']);
  const bytes = fs.readFileSync(tgz);
  const stage = runtime.processStage('denoise');
  await assert.rejects(stage([]), (err) => codeOf(err) === 'E_PLUGIN_NOT_INSTALLED');
  await assert.rejects(
    runtime.install(bytes, { sha256: '0'.repeat(64) }),
    (err) => codeOf(err) === 'E_PLUGIN_SHA256',
  );
  const steps: string[] = [];
  const status = await runtime.install(bytes, { sha256: sha256Hex(code), onProgress: (s) => steps.push(s) });
  assert.equal(status.state, 'running');
  assert.deepEqual(
    steps.map((s) => s.split(' ')[0]),
    ['extracting', 'reading', 'verifying', 'copying', 'installed', 'started'],
  );
  assert.deepEqual(
    fs.readdirSync(runtime.dir).filter((f) => f.startsWith('.upload')),
    [],
  );
  const process = runtime.processFn('denoise');
  assert.ok(process);
  const kept = await process([
    { kind: 'log', ts: 1, name: 'noise', attrs: {}, source: 'log' },
    { kind: 'log', ts: 1, name: 'signal', attrs: {}, source: 'log' },
  ]);
  assert.deepEqual(
    kept.map((r) => r.name),
    ['signal'],
  );
  assert.equal(runtime.processFn('counter'), undefined, 'counter has no process capability');
  assert.deepEqual(
    (await stage([{ kind: 'log', ts: 1, name: 'noise', attrs: {}, source: 'log' }])).length,
    0,
    'a stage made before the install finds the plugin once it is installed',
  );

  await runtime.remove('denoise');
  assert.equal(runtime.processFn('denoise'), undefined);
  assert.equal(fs.existsSync(path.join(runtime.dir, 'denoise')), false);
  await assert.rejects(runtime.enable('denoise'), (err) => codeOf(err) === 'E_PLUGIN_NOT_INSTALLED');

  const closing = runtime.close();
  assert.equal(runtime.close(), closing);
  await closing;
  await assert.rejects(runtime.enable('counter'), (err) => codeOf(err) === 'E_PLUGIN_HOST_CLOSED');
  assert.equal(runtime.pauseHeaviest(), undefined);
});
