import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadPlugin } from '@outpost/plugin-sdk/testing';
import { buildPlugin } from '../build.ts';

const pluginDir = new URL('..', import.meta.url).pathname;

before(async () => {
  await buildPlugin();
});

test('collect counts its runs and greets', async () => {
  await using plugin = await loadPlugin(pluginDir, { config: { greeting: 'hi there' } });

  const first = await plugin.collect();
  assert.equal(first.find((r) => r.name === 'hello.runs')?.value, 1);
  assert.equal(first.find((r) => r.name === 'hello.greeting')?.body, 'hi there #1');

  const second = await plugin.collect();
  assert.equal(second.find((r) => r.name === 'hello.runs')?.value, 2);
  assert.equal(second[0]?.source, 'plugin:hello-collector');
  assert.ok(plugin.logs.some((line) => line.message === 'saying hello'));
});

test('the greeting defaults to "hello"', async () => {
  await using plugin = await loadPlugin(pluginDir);
  const records = await plugin.collect();
  assert.equal(records.find((r) => r.name === 'hello.greeting')?.body, 'hello #1');
});
