import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import pino from 'pino';
import si from 'systeminformation';
import { SystemInput } from './index.ts';

const silent = pino({ level: 'silent' });

const byName = (records: OutpostRecord[], name: string) => records.filter((r) => r.name === name);

test('system: collectOnce returns the OpenTelemetry host metrics with finite values', async () => {
  const input = new SystemInput({ intervalMs: 10_000, emit: async () => true, logger: silent });
  const records = await input.collectOnce();
  await input.close();

  const required = [
    'system.cpu.utilization',
    'system.memory.usage',
    'system.memory.utilization',
    'system.paging.usage',
    'system.cpu.load_average.1m',
    'system.cpu.load_average.5m',
    'system.cpu.load_average.15m',
    'system.network.io',
    'system.uptime',
  ];
  if ((await si.fsSize()).some((fs) => fs.size > 0)) {
    required.push('system.filesystem.usage', 'system.filesystem.utilization');
  }
  const names = new Set(records.map((r) => r.name));
  for (const name of required) assert.ok(names.has(name), `missing ${name}; got ${[...names].join(', ')}`);

  for (const r of records) {
    assert.equal(r.kind, 'metric');
    assert.equal(r.source, 'system');
    assert.ok(Number.isFinite(r.value), `${r.name} ${JSON.stringify(r.attrs)} = ${r.value}`);
    assert.ok((r.value as number) >= 0, `${r.name} is negative`);
    assert.equal(typeof r.unit, 'string');
  }

  const cpu = byName(records, 'system.cpu.utilization');
  const total = cpu.filter((r) => !('cpu.logical_number' in r.attrs));
  assert.equal(total.length, 1);
  assert.equal(cpu.length - 1, os.cpus().length, 'one record per logical cpu');
  for (const r of cpu) {
    assert.equal(r.unit, '1');
    assert.ok(
      (r.value as number) >= 0 && (r.value as number) <= 1,
      `cpu utilization ${r.value} outside [0,1]`,
    );
  }

  const memory = byName(records, 'system.memory.usage');
  const memStates = new Set(memory.map((r) => r.attrs['system.memory.state']));
  assert.ok(memStates.has('used') && memStates.has('free'));
  assert.equal(
    memory.reduce((sum, r) => sum + (r.value as number), 0),
    os.totalmem(),
    'memory states add up to the total',
  );
  for (const r of byName(records, 'system.memory.utilization')) assert.ok((r.value as number) <= 1);

  for (const r of byName(records, 'system.filesystem.usage')) {
    assert.equal(r.unit, 'By');
    assert.equal(typeof r.attrs['system.filesystem.mountpoint'], 'string');
    assert.ok(['used', 'free'].includes(r.attrs['system.filesystem.state'] as string));
  }
  for (const r of byName(records, 'system.network.io')) {
    assert.equal(typeof r.attrs['network.interface.name'], 'string');
    assert.ok(['receive', 'transmit'].includes(r.attrs['network.io.direction'] as string));
  }
  for (const r of byName(records, 'system.disk.io')) {
    assert.ok(['read', 'write'].includes(r.attrs['disk.io.direction'] as string));
  }
  const ts = records[0]?.ts as number;
  assert.ok(
    records.every((r) => r.ts === ts),
    'one timestamp per cycle',
  );
});

test('system: only the configured metric groups are collected', async () => {
  const input = new SystemInput({
    intervalMs: 10_000,
    metrics: ['uptime', 'swap'],
    emit: async () => true,
    logger: silent,
  });
  const names = new Set((await input.collectOnce()).map((r) => r.name));
  await input.close();
  assert.deepEqual([...names].sort(), ['system.paging.usage', 'system.uptime']);
});
