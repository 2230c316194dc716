import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import pino from 'pino';
import { ProcessInput, type ProcessInputOptions } from './index.ts';

const silent = pino({ level: 'silent' });
const linux = process.platform === 'linux';

const pidsOf = (records: OutpostRecord[]) => new Set(records.map((r) => r.attrs['process.pid']));

async function collectTwice(
  options: Partial<ProcessInputOptions>,
): Promise<[OutpostRecord[], OutpostRecord[], ProcessInput]> {
  const input = new ProcessInput({ intervalMs: 10_000, emit: async () => true, logger: silent, ...options });
  const first = await input.collectOnce();
  // Burn a little CPU so the rate between the two samples has something to measure.
  const until = Date.now() + 50;
  while (Date.now() < until) Math.sqrt(Math.random());
  const second = await input.collectOnce();
  await input.close();
  return [first, second, input];
}

async function withSleep<T>(seconds: string, fn: (child: ChildProcess) => Promise<T>): Promise<T> {
  const child = spawn('sleep', [seconds], { stdio: 'ignore' });
  await once(child, 'spawn');
  try {
    return await fn(child);
  } finally {
    child.kill();
  }
}

test('processes: the agent itself, with cpu from the second sample on', async () => {
  const [first, second] = await collectTwice({ self: true });
  assert.deepEqual(
    first.map((r) => r.name),
    ['process.memory.usage'],
    'no cpu rate from a single sample',
  );
  const cpu = second.find((r) => r.name === 'process.cpu.utilization');
  const memory = second.find((r) => r.name === 'process.memory.usage');
  assert.ok(cpu && memory, `got ${second.map((r) => r.name).join(', ')}`);
  assert.ok((cpu.value as number) >= 0 && (cpu.value as number) <= os.availableParallelism());
  assert.equal(cpu.unit, '1');
  assert.ok((memory.value as number) > 1024 * 1024, 'RSS is at least 1 MiB');
  assert.equal(memory.unit, 'By');
  assert.equal(memory.source, 'process');
  assert.deepEqual(
    {
      pid: memory.attrs['process.pid'],
      self: memory.attrs['outpost.self'],
      exe: memory.attrs['process.executable.name'],
    },
    { pid: process.pid, self: true, exe: path.basename(process.execPath) },
  );
  const cmdline = memory.attrs['process.command_line'] as string;
  assert.ok(cmdline.length > 0 && cmdline.length <= 256);
});

test('processes: finds a process by pid', async () => {
  await withSleep('30', async (child) => {
    const [, records] = await collectTwice({ self: false, match: [{ pid: child.pid as number }] });
    assert.deepEqual([...pidsOf(records)], [child.pid]);
    const memory = records.find((r) => r.name === 'process.memory.usage');
    assert.equal(memory?.attrs['process.executable.name'], 'sleep');
    assert.equal(memory?.attrs['outpost.self'], undefined);
    assert.equal(memory?.attrs['process.command_line'], 'sleep 30');
    const cpu = records.find((r) => r.name === 'process.cpu.utilization');
    assert.ok(cpu !== undefined && (cpu.value as number) < 0.5, 'a sleeping process uses almost no cpu');
  });
});

test('processes: finds a process by name and by command-line pattern', {
  skip: !linux && 'needs /proc',
}, async () => {
  await withSleep('30.4242', async (child) => {
    const [, byName] = await collectTwice({ self: false, match: [{ name: 'sleep' }] });
    assert.ok(pidsOf(byName).has(child.pid), 'matched by name');
    assert.ok(!pidsOf(byName).has(process.pid));

    const [, byPattern] = await collectTwice({ self: false, match: [{ pattern: '^sleep 30\\.4242$' }] });
    assert.deepEqual([...pidsOf(byPattern)], [child.pid]);
    assert.equal(
      byPattern.find((r) => r.name === 'process.memory.usage')?.attrs['process.command_line'],
      'sleep 30.4242',
    );
  });
});

test('processes: a match that finds nothing is not an error, and an exited process drops out', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const logged: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logged.push(JSON.parse(line).msg) });
  const input = new ProcessInput({
    intervalMs: 10_000,
    emit: async () => true,
    logger,
    self: false,
    match: [
      { pid: child.pid as number },
      { name: 'no-such-process-outpost' },
      { pattern: 'no such .* outpost$' },
    ],
  });
  assert.deepEqual([...pidsOf(await input.collectOnce())], [child.pid]);
  child.kill();
  await once(child, 'exit');
  assert.deepEqual(await input.collectOnce(), []);
  assert.equal(input.stats().errors, 0);
  await input.close();
  const missing = logged.filter((m) => m.includes('found no process'));
  assert.equal(missing.length, 3, `each empty match is logged once: ${missing.join(' | ')}`);
});

test('processes: self and a match on the same process give one set of records', async () => {
  const [, records] = await collectTwice({ self: true, match: [{ pid: process.pid }] });
  assert.deepEqual(records.map((r) => r.name).sort(), ['process.cpu.utilization', 'process.memory.usage']);
  assert.ok(records.every((r) => r.attrs['outpost.self'] === true));
});
