import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { RecordInput } from '@outpost/plugin-sdk';
import { FakeClock, loadPlugin, MemoryStateStore } from '@outpost/plugin-sdk/testing';
import { buildPlugin } from '../build.ts';

const pluginDir = new URL('..', import.meta.url).pathname;
const config = {
  patterns: [
    { name: 'error', regex: 'error', flags: 'i' },
    { name: 'timeout', regex: 'timed? ?out' },
  ],
  windowMs: 60_000,
};

before(async () => {
  await buildPlugin();
});

function log(body: string): RecordInput {
  return { kind: 'log', name: 'app.log', body, source: 'file:/var/log/app.log' };
}

test('passes every record through unchanged, its source kept, emitted records after them', async () => {
  await using plugin = await loadPlugin(pluginDir, { config });
  const input: RecordInput[] = [
    log('ERROR: disk full'),
    { kind: 'metric', name: 'cpu', value: 1, source: 'system' },
    log('all good'),
  ];
  const out = await plugin.process(input);
  assert.deepEqual(
    out.map((r) => [r.kind, r.name, r.body ?? r.value, r.source]),
    [
      ['log', 'app.log', 'ERROR: disk full', 'file:/var/log/app.log'],
      ['metric', 'cpu', 1, 'system'],
      ['log', 'app.log', 'all good', 'file:/var/log/app.log'],
      ['event', 'log.pattern.match', 'ERROR: disk full', 'plugin:@outpost/plugin-log-pattern'],
    ],
  );
});

test('emits an event on the first match of a pattern in a window, and counts per window', async () => {
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 0, 0, 0));
  await using plugin = await loadPlugin(pluginDir, { config, clock });

  await plugin.process([log('error one, Error two'), log('request timed out'), log('fine')]);
  let events = plugin.emitted.filter((r) => r.kind === 'event');
  assert.deepEqual(
    events.map((e) => [e.name, e.attrs.pattern, e.body]),
    [
      ['log.pattern.match', 'error', 'error one, Error two'],
      ['log.pattern.match', 'timeout', 'request timed out'],
    ],
  );

  clock.advance(10_000);
  await plugin.process([log('another error'), log('metric without body')]);
  events = plugin.emitted.filter((r) => r.kind === 'event');
  assert.equal(events.length, 2, 'no second event for a pattern already seen in this window');
  assert.equal(
    plugin.emitted.some((r) => r.name === 'log.pattern.count'),
    false,
    'the window is still open',
  );

  clock.advance(60_000);
  await plugin.process([log('error in the next window')]);
  const counts = plugin.emitted.filter((r) => r.name === 'log.pattern.count');
  assert.deepEqual(
    counts.map((c) => [c.attrs.pattern, c.value, c.ts, c.attrs.window_start]),
    [
      ['error', 3, Date.UTC(2025, 0, 1, 0, 1, 0), Date.UTC(2025, 0, 1)],
      ['timeout', 1, Date.UTC(2025, 0, 1, 0, 1, 0), Date.UTC(2025, 0, 1)],
    ],
  );
  const newEvents = plugin.emitted.filter((r) => r.kind === 'event').slice(2);
  assert.deepEqual(
    newEvents.map((e) => e.attrs.pattern),
    ['error'],
    'a new window reports its first match again',
  );
});

test('keeps the open window across a restart', async () => {
  const clock = new FakeClock(Date.UTC(2025, 0, 1));
  const state = new MemoryStateStore();
  {
    await using plugin = await loadPlugin(pluginDir, { config, clock, state });
    await plugin.process([log('error a'), log('error b')]);
  }
  await using plugin = await loadPlugin(pluginDir, { config, clock, state });
  clock.advance(30_000);
  await plugin.process([log('error c')]);
  assert.equal(
    plugin.emitted.filter((r) => r.kind === 'event').length,
    0,
    'the pattern was already seen in this window before the restart',
  );
  clock.advance(60_000);
  await plugin.process([]);
  const error = plugin.emitted.find((r) => r.name === 'log.pattern.count' && r.attrs.pattern === 'error');
  assert.equal(error?.value, 3);
});

test('refuses an invalid regex at load, naming the pattern', async () => {
  await assert.rejects(
    loadPlugin(pluginDir, { config: { patterns: [{ name: 'broken', regex: '(' }] } }),
    /broken/,
  );
});
