import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { RecordInput } from '@outpost/plugin-sdk';
import { FakeClock, loadPlugin, MemoryStateStore } from '@outpost/plugin-sdk/testing';
import { buildPlugin } from '../build.ts';

const pluginDir = new URL('..', import.meta.url).pathname;
const config = {
  rules: [
    { metric: 'cpu', op: 'above', threshold: 90, forMs: 60_000, severity: 'critical' },
    { metric: 'disk.free', op: 'below', threshold: 10, forMs: 0 },
  ],
};

before(async () => {
  await buildPlugin();
});

function cpu(value: number, host = 'a'): RecordInput {
  return { kind: 'metric', name: 'cpu', value, attrs: { host } };
}

test('fires after the value stays above the threshold for forMs, resolves when it is back', async () => {
  const clock = new FakeClock();
  await using plugin = await loadPlugin(pluginDir, { config, clock });

  assert.deepEqual(await plugin.rule([cpu(95)]), [], 'not yet for long enough');
  clock.advance(30_000);
  assert.deepEqual(await plugin.rule([cpu(97)]), []);
  clock.advance(30_000);
  const [firing, ...rest] = await plugin.rule([cpu(99)]);
  assert.equal(rest.length, 0);
  assert.equal(firing?.name, 'threshold.cpu');
  assert.equal(firing.attrs.state, 'firing');
  assert.equal(firing.attrs.severity, 'critical');
  assert.equal(firing.attrs.host, 'a');
  assert.equal(firing.attrs.value, 99);
  assert.equal(firing.ts, clock.now());

  clock.advance(10_000);
  assert.deepEqual(await plugin.rule([cpu(98)]), [], 'fires once');
  const [resolved] = await plugin.rule([cpu(20)]);
  assert.equal(resolved?.attrs.state, 'resolved');
  assert.equal(resolved.attrs.host, 'a');
  assert.deepEqual(await plugin.rule([cpu(20)]), [], 'resolves once');
});

test('a dip below the threshold restarts the duration', async () => {
  const clock = new FakeClock();
  await using plugin = await loadPlugin(pluginDir, { config, clock });
  await plugin.rule([cpu(95)]);
  clock.advance(50_000);
  assert.deepEqual(await plugin.rule([cpu(50)]), []);
  clock.advance(20_000);
  assert.deepEqual(await plugin.rule([cpu(95)]), []);
  clock.advance(59_000);
  assert.deepEqual(await plugin.rule([cpu(95)]), []);
  clock.advance(1_000);
  assert.equal((await plugin.rule([cpu(95)]))[0]?.attrs.state, 'firing');
});

test('tracks each series (metric + attributes) on its own; below and forMs 0 fire at once', async () => {
  const clock = new FakeClock();
  await using plugin = await loadPlugin(pluginDir, { config, clock });
  await plugin.rule([cpu(95, 'a')]);
  clock.advance(60_000);
  const alerts = await plugin.rule([
    cpu(95, 'b'),
    cpu(95, 'a'),
    { kind: 'metric', name: 'disk.free', value: 5, attrs: { mount: '/' } },
    { kind: 'metric', name: 'disk.free', value: 50, attrs: { mount: '/home' } },
    { kind: 'log', name: 'cpu', body: '99' },
  ]);
  assert.deepEqual(
    alerts.map((a) => [a.name, a.attrs.state, a.attrs.host ?? a.attrs.mount, a.attrs.severity]),
    [
      ['threshold.cpu', 'firing', 'a', 'critical'],
      ['threshold.disk.free', 'firing', '/', 'warning'],
    ],
  );
});

test('a firing alert survives a restart through ctx.state and resolves afterwards', async () => {
  const clock = new FakeClock();
  const state = new MemoryStateStore();
  {
    await using plugin = await loadPlugin(pluginDir, { config, clock, state });
    await plugin.rule([cpu(95)]);
    clock.advance(60_000);
    assert.equal((await plugin.rule([cpu(95)])).length, 1);
  }
  await using plugin = await loadPlugin(pluginDir, { config, clock, state });
  clock.advance(1_000);
  assert.deepEqual(await plugin.rule([cpu(95)]), [], 'still firing: not fired again');
  const [resolved] = await plugin.rule([cpu(10)]);
  assert.equal(resolved?.attrs.state, 'resolved');
});
