import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import pino from 'pino';
import { PollingInput } from '../collect/input.ts';
import { type LoadShedding, ResourceGuard, type UsageSample } from './resource-guard.ts';

const silent = pino({ level: 'silent' });

/** Shedding that records what the guard asked for, with one plugin to pause. */
function recordingShedding(plugins: string[] = ['heavy']) {
  const calls: string[] = [];
  const shedding: LoadShedding = {
    slowInputs: (factor) => calls.push(`slow x${factor}`),
    pauseHeaviestPlugin: async () => {
      const name = plugins.shift() ?? null;
      calls.push(`pause ${name}`);
      return name;
    },
    resumePlugins: async () => {
      calls.push('resume');
    },
  };
  return { calls, shedding };
}

test('resource guard: steps up one level per two readings over, down one per three well under', async () => {
  const readings: UsageSample[] = [];
  const { calls, shedding } = recordingShedding();
  const guard = new ResourceGuard({
    limits: { cpuPercent: 10, memoryBytes: 100 },
    intervalMs: 1000,
    shedding,
    logger: silent,
    sample: () => readings.shift() ?? { cpuPercent: 0, rssBytes: 0 },
  });
  const feed = async (sample: UsageSample, times: number) => {
    for (let i = 0; i < times; i++) {
      readings.push(sample);
      await guard.check();
    }
  };
  await feed({ cpuPercent: 50, rssBytes: 10 }, 1);
  assert.equal(guard.status().level, 0, 'one spike is not load');
  await feed({ cpuPercent: 5, rssBytes: 10 }, 1);
  await feed({ cpuPercent: 50, rssBytes: 10 }, 1);
  assert.equal(guard.status().level, 0, 'the readings over must be in a row');
  await feed({ cpuPercent: 50, rssBytes: 10 }, 1);
  assert.equal(guard.status().level, 1);
  // Memory alone counts too.
  await feed({ cpuPercent: 1, rssBytes: 500 }, 4);
  assert.deepEqual(calls, ['slow x2', 'slow x4', 'pause heavy']);
  assert.deepEqual(guard.status().pausedPlugins, ['heavy']);
  assert.equal(guard.inputSlowdown, 4);
  // At the top level, staying over changes nothing more.
  await feed({ cpuPercent: 50, rssBytes: 500 }, 4);
  assert.equal(calls.length, 3);

  // Between 80% and 100% of a limit is neither over nor well under: nothing is restored.
  await feed({ cpuPercent: 9, rssBytes: 10 }, 6);
  assert.equal(guard.status().level, 3);
  await feed({ cpuPercent: 1, rssBytes: 10 }, 2);
  assert.equal(guard.status().level, 3);
  await feed({ cpuPercent: 1, rssBytes: 10 }, 1);
  assert.equal(guard.status().level, 2);
  await feed({ cpuPercent: 1, rssBytes: 10 }, 6);
  assert.equal(guard.status().level, 0);
  assert.deepEqual(calls, ['slow x2', 'slow x4', 'pause heavy', 'resume', 'slow x2', 'slow x1']);
  assert.deepEqual(guard.status().actions, {
    slow_inputs: 2,
    pause_plugin: 1,
    resume_plugins: 1,
    restore_inputs: 2,
  });
  await guard.close();
});

test('resource guard: without a plugin to pause it stays at the slowest inputs; close() undoes every step', async () => {
  const { calls, shedding } = recordingShedding([]);
  const guard = new ResourceGuard({
    limits: { cpuPercent: null, memoryBytes: 100 },
    intervalMs: 1000,
    shedding,
    logger: silent,
    sample: () => ({ cpuPercent: 1000, rssBytes: 200 }),
  });
  for (let i = 0; i < 8; i++) await guard.check();
  assert.equal(guard.status().level, 2);
  assert.deepEqual(calls.slice(0, 3), ['slow x2', 'slow x4', 'pause null']);
  await guard.close();
  await guard.close();
  assert.equal(guard.status().level, 0);
  assert.equal(calls.at(-1), 'slow x1');
  await assert.rejects(guard.check(), { code: 'E_GUARD_CLOSED' });
});

class TickCounter extends PollingInput {
  readonly name = 'ticks';
  ticks = 0;
  protected async collect(): Promise<OutpostRecord[]> {
    this.ticks++;
    return [];
  }
}

function burnCpu(ms: number): void {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

test('resource guard: real CPU burned by this process slows a real input, and it recovers when idle', async () => {
  const input = new TickCounter({ intervalMs: 20, emit: async () => true, logger: silent });
  const guard = new ResourceGuard({
    // Low, so a busy loop is over it even when other processes share the cores.
    limits: { cpuPercent: 10, memoryBytes: null },
    intervalMs: 60_000,
    shedding: { slowInputs: (factor) => input.setSlowdown(factor) },
    logger: silent,
  });
  input.start();
  await guard.check();
  // Two busy readings: the process's own cpuUsage() shows up to 100% of a core.
  for (let i = 0; i < 2; i++) {
    burnCpu(300);
    await guard.check();
  }
  const busy = guard.status();
  assert.equal(busy.level, 1, `last reading ${JSON.stringify(busy.last)}`);
  assert.ok((busy.last?.cpuPercent ?? 0) > 10);

  // The input now ticks every 40 ms instead of 20.
  const before = input.ticks;
  await new Promise((r) => setTimeout(r, 400));
  const slowed = input.ticks - before;
  assert.ok(slowed >= 2 && slowed <= 13, `${slowed} ticks in 400 ms at 40 ms`);

  // Idle readings (under 8%) bring it back; a stray busy reading only delays that.
  const deadline = Date.now() + 5000;
  while (guard.status().level > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    await guard.check();
  }
  assert.equal(guard.status().level, 0, `last reading ${JSON.stringify(guard.status().last)}`);
  await guard.close();
  await input.close();
});

test('resource guard: real memory allocated by this process goes over an RSS limit', async () => {
  const calls: number[] = [];
  const rss = process.memoryUsage.rss();
  const guard = new ResourceGuard({
    limits: { cpuPercent: null, memoryBytes: rss + 64 * 2 ** 20 },
    intervalMs: 60_000,
    shedding: { slowInputs: (factor) => calls.push(factor) },
    logger: silent,
  });
  await guard.check();
  assert.equal(guard.status().level, 0);
  // Touched pages count in RSS; an untouched allocation would not.
  const ballast = Buffer.alloc(128 * 2 ** 20, 1);
  await guard.check();
  await guard.check();
  assert.equal(guard.status().level, 1, `rss ${guard.status().last?.rssBytes}, ballast ${ballast.length}`);
  assert.deepEqual(calls, [2]);
  await guard.close();
});
