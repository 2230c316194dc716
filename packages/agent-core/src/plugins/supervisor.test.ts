import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import { pino } from 'pino';
import { PluginStore, PluginSupervisor, type PluginSupervisorOptions } from './index.ts';
import { COUNTER, COUNTER_SCHEMA, tempDir, until, writePlugin } from './test-fixtures.ts';

const logger = pino({ level: 'silent' });
const codeOf = (err: unknown) => (err as { code?: string }).code;

function setup(
  t: { after: (fn: () => Promise<void> | void) => void },
  options: Partial<PluginSupervisorOptions> = {},
) {
  const root = tempDir(t, 'plugin-host');
  const store = new PluginStore({ stateDir: path.join(root, 'state') });
  const records: OutpostRecord[] = [];
  const supervisor = new PluginSupervisor({
    store,
    logger,
    emit: async (batch) => {
      records.push(...batch);
      return true;
    },
    collectIntervalMs: 50,
    restartInitialMs: 20,
    restartMaxMs: 100,
    hostRestartInitialMs: 20,
    ...options,
  });
  t.after(() => supervisor.close());
  return { root, store, records, supervisor };
}

const values = (records: OutpostRecord[], name: string) =>
  records.filter((r) => r.name === name).map((r) => (r as { value: number }).value);

test('collect plugins run on schedule; state survives reconfigure and a host killed with SIGKILL', async (t) => {
  const { root, store, records, supervisor } = setup(t);
  await store.install(
    writePlugin(root, 'counter', { capabilities: ['collect'], configSchema: COUNTER_SCHEMA }, COUNTER),
  );
  await supervisor.start();
  await until('three collections', () => values(records, 'counter').length >= 3);
  assert.deepEqual(values(records, 'counter').slice(0, 3), [1, 2, 3]);

  await supervisor.reconfigure('counter', { metric: 'renamed' });
  const afterConfig = await until('a renamed record', () => values(records, 'renamed')[0]);
  assert.ok(afterConfig > 3, `state kept across reconfigure (got ${afterConfig})`);

  const pid = supervisor.host.pid;
  assert.ok(pid !== undefined);
  const before = Math.max(...values(records, 'renamed'));
  process.kill(pid, 'SIGKILL');
  await until('the host restarted', () => supervisor.host.restarts === 1 && supervisor.host.pid !== pid);
  await until('records after the restart', () => Math.max(...values(records, 'renamed')) > before + 1);
  const all = values(records, 'renamed');
  for (let i = 1; i < all.length; i++) assert.ok(all[i]! > all[i - 1]!, `counter never went back: ${all}`);
  const [stats] = await supervisor.stats();
  assert.equal(stats?.state, 'running');
  assert.ok((stats?.calls ?? 0) >= 5);
  assert.ok((stats?.recordsOut ?? 0) >= 5);
  assert.ok((stats?.heapUsedBytes ?? 0) > 0);
});

test('a throwing plugin is restarted, then quarantined; a good plugin keeps producing; enable clears it', async (t) => {
  const { root, store, records, supervisor } = setup(t, { maxFailures: 3 });
  await store.install(
    writePlugin(root, 'counter', { capabilities: ['collect'], configSchema: COUNTER_SCHEMA }, COUNTER),
  );
  await store.install(
    writePlugin(
      root,
      'broken',
      { capabilities: ['collect'] },
      `export default { collect() { throw new Error('boom'); } };`,
    ),
  );
  await supervisor.start();
  const stats = await until('broken quarantined', async () =>
    (await supervisor.stats()).find((s) => s.name === 'broken' && s.state === 'quarantined'),
  );
  assert.equal(stats.restarts, 2);
  assert.equal(stats.errors, 3);
  assert.match(stats.reason ?? '', /plugin "broken": collect\(\) threw Error: boom/);
  const produced = values(records, 'counter').length;
  await until('counter keeps going', () => values(records, 'counter').length > produced + 2);
  await assert.rejects(supervisor.collect('broken'), (err) => codeOf(err) === 'E_PLUGIN_QUARANTINED');

  await supervisor.enable('broken');
  const again = (await supervisor.stats()).find((s) => s.name === 'broken');
  assert.notEqual(again?.state, 'quarantined');
  assert.equal(again?.reason, null);
});

test('process plugins through processFn; disable, remove; close() is idempotent', async (t) => {
  const { root, store, supervisor } = setup(t);
  await store.install(
    writePlugin(
      root,
      'double',
      { capabilities: ['process'] },
      `export default { process(records) { return records.map((r) => ({ ...r, value: r.value * 2 })); } };`,
    ),
  );
  await supervisor.start();
  const run = supervisor.processFn('double');
  const out = await run([{ kind: 'metric', ts: 1, name: 'm', value: 21, attrs: {}, source: 'system' }]);
  assert.deepEqual(
    out.map((r) => (r as { value: number }).value),
    [42],
  );
  await assert.rejects(supervisor.collect('double'), (err) => codeOf(err) === 'E_PLUGIN_CAPABILITY');
  assert.equal((await supervisor.stats())[0]?.state, 'running', 'a wrong call is not a plugin failure');
  await supervisor.disable('double');
  await assert.rejects(run([]), (err) => codeOf(err) === 'E_PLUGIN_NOT_RUNNING');
  await supervisor.remove('double');
  assert.equal(await store.get('double'), undefined);

  const pid = supervisor.host.pid;
  assert.ok(pid !== undefined);
  const first = supervisor.close();
  assert.equal(supervisor.close(), first);
  await first;
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
  await assert.rejects(run([]), (err) => codeOf(err) === 'E_PLUGIN_HOST_CLOSED');
  assert.throws(
    () => supervisor.start(),
    (err) => codeOf(err) === 'E_PLUGIN_HOST_CLOSED',
  );
});

test('a heap bomb is stopped and quarantined; the other plugin keeps its schedule', async (t) => {
  const { root, store, records, supervisor } = setup(t, {
    maxFailures: 2,
    limits: { memoryLimitMb: 16, timeoutMs: 20_000 },
  });
  await store.install(
    writePlugin(root, 'counter', { capabilities: ['collect'], configSchema: COUNTER_SCHEMA }, COUNTER),
  );
  await store.install(
    writePlugin(
      root,
      'bomb',
      { capabilities: ['collect'] },
      `export default { collect() { const keep = []; for (;;) keep.push(new Array(1e5).fill({ x: 1 })); } };`,
    ),
  );
  await supervisor.start();
  const stats = await until(
    'bomb quarantined',
    async () => (await supervisor.stats()).find((s) => s.name === 'bomb' && s.state === 'quarantined'),
    30_000,
  );
  assert.match(stats.reason ?? '', /memory/i);
  const produced = values(records, 'counter').length;
  await until('counter keeps going', () => values(records, 'counter').length > produced + 2);
  assert.equal((await supervisor.stats()).find((s) => s.name === 'counter')?.state, 'running');
});

test('a registry config that no longer validates is refused in the daemon: quarantined before the plugin runs', async (t) => {
  const { root, store, records, supervisor } = setup(t);
  await store.install(
    writePlugin(root, 'counter', { capabilities: ['collect'], configSchema: COUNTER_SCHEMA }, COUNTER),
  );
  // Edited by hand, past setConfig's validation: the load must catch it, not the plugin host.
  const registryFile = path.join(store.root, 'registry.json');
  const registry = JSON.parse(fs.readFileSync(registryFile, 'utf8'));
  registry.plugins.counter.config = { metric: 5 };
  fs.writeFileSync(registryFile, JSON.stringify(registry));
  await supervisor.start();
  const [stats] = await supervisor.stats();
  assert.equal(stats?.state, 'quarantined');
  assert.equal(stats?.reason, 'plugin "counter": config.metric: must be string');
  assert.deepEqual((await supervisor.host.stats()).counter, undefined, 'never loaded in the host');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(records, []);
});
