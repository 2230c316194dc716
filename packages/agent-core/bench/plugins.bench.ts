/**
 * Plugins: records/s through a no-op and a filter process plugin in batches of 1000 (the daemon ->
 * plugin-host IPC hop and the isolate copy both ways included, as the processor chain calls them;
 * records cross as JSON text in pieces of 128 records, toJsonPieces in @outpost/plugin-sdk/records),
 * the CPU time that costs per record in the daemon and in the plugin host (which holds the isolate
 * threads; unlike records/s, it does not depend on what else runs on the machine), per-call
 * overhead with one record, isolate start time, and memory per loaded idle plugin.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import { readPluginPackage, sha256Hex } from '@outpost/plugin-sdk/manifest';
import pino from 'pino';
import { rate, record200, report } from '../../../bench/report.ts';
import type { PluginsConfig } from '../src/config/index.ts';
import { PluginHost, PluginRuntime } from '../src/plugins/index.ts';
import { writePlugin } from '../src/plugins/test-fixtures.ts';

const BATCHES = Number(process.env.BENCH_PLUGIN_BATCHES ?? 300);
const BATCH = 1000;
const CALLS = Number(process.env.BENCH_PLUGIN_CALLS ?? 3000);
const IDLE_PLUGINS = 20;
const IN_FLIGHT = 4;
const logger = pino({ level: 'silent' });
const figures: Record<string, number> = {};

const CODE = {
  noop: 'export default { process(records) { return records; } };',
  // Keeps every other record.
  filter: 'export default { process(records) { return records.filter((r) => r.attrs.n % 2 === 0); } };',
  idle: 'export default { collect() { return []; } };',
};

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-plugins-'));

/** utime + stime of a process in ms (fields 14 and 15 of /proc/<pid>/stat, in 10 ms ticks). */
function cpuMsOf(pid: number): number {
  const fields = (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const config: PluginsConfig = {
  enabled: true,
  dir: path.join(root, 'plugins'),
  limits: {
    memory: 128 * 1024 * 1024,
    timeout: 30_000,
    cpu_budget: 600_000,
    cpu_window: 600_000,
    max_records_per_call: 10_000,
  },
  restart: { initial_backoff: 1000, max_backoff: 60_000, quarantine_after: 5, failure_window: 600_000 },
  overrides: {},
};
const runtime = new PluginRuntime({ config, logger, emit: async () => true, enqueue: () => true });
await runtime.start();
const batches = Array.from({ length: 4 }, (_, b) =>
  Array.from({ length: BATCH }, (_, i) => record200(b * BATCH + i) as OutpostRecord),
);

for (const name of ['noop', 'filter'] as const) {
  await runtime.install(writePlugin(root, name, { capabilities: ['process'] }, CODE[name]));
  const call = runtime.processFn(name);
  if (call === undefined) throw new Error(`${name} did not install as a process plugin`);
  for (const batch of batches) await call(batch);
  let out = 0;
  const hostPid = runtime.hostPid as number;
  const hostCpuBefore = cpuMsOf(hostPid);
  const cpuBefore = process.cpuUsage();
  let started = performance.now();
  for (let i = 0; i < BATCHES; i++)
    out += (await call(batches[i % batches.length] as OutpostRecord[])).length;
  figures[`${name}_records_per_s`] = rate(BATCHES * BATCH, performance.now() - started);
  const daemonCpu = process.cpuUsage(cpuBefore);
  const perRecordUs = (ms: number) => Math.round(((ms * 1000) / (BATCHES * BATCH)) * 100) / 100;
  figures[`${name}_cpu_us_per_record_daemon`] = perRecordUs((daemonCpu.user + daemonCpu.system) / 1000);
  figures[`${name}_cpu_us_per_record_host`] = perRecordUs(cpuMsOf(hostPid) - hostCpuBefore);
  // Several inputs emit at once in an agent: with batches in flight, the IPC of one overlaps the
  // isolate's work on another (calls into one plugin still run one at a time).
  started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < BATCHES) await call(batches[next++ % batches.length] as OutpostRecord[]);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  figures[`${name}_records_per_s_${IN_FLIGHT}_in_flight`] = rate(
    BATCHES * BATCH,
    performance.now() - started,
  );
  console.log(
    `${name} process plugin, batches of ${BATCH}: ${figures[`${name}_records_per_s`]} records/s one batch at a time, ` +
      `${figures[`${name}_records_per_s_${IN_FLIGHT}_in_flight`]} records/s with ${IN_FLIGHT} in flight (${out / BATCHES} of ${BATCH} kept); ` +
      `CPU per record: ${figures[`${name}_cpu_us_per_record_daemon`]} us in the daemon, ${figures[`${name}_cpu_us_per_record_host`]} us in the plugin host`,
  );
}

const noop = runtime.processFn('noop');
const one = [record200(0) as OutpostRecord];
if (noop !== undefined) {
  for (let i = 0; i < 200; i++) await noop(one);
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) await noop(one);
  figures.call_overhead_us = Math.round(((performance.now() - started) / CALLS) * 1000 * 10) / 10;
  console.log(`per call (1 record, through the plugin host): ${figures.call_overhead_us} us`);
}
await runtime.close();

// Start time and memory of idle plugins, measured on a plugin host of their own.
const host = new PluginHost({ logger });
await host.start();
const pid = host.pid as number;
const idle = await readPluginPackage(writePlugin(root, 'idle', { capabilities: ['collect'] }, CODE.idle));
await host.load({
  name: 'warm-up',
  manifest: idle.manifest,
  entryPath: idle.entryPath,
  sha256: sha256Hex(CODE.idle),
  config: {},
  stateFile: path.join(root, 'warm-up.json'),
});
const rssBefore = rssOf(pid);
const starts: number[] = [];
for (let i = 0; i < IDLE_PLUGINS; i++) {
  const started = performance.now();
  await host.load({
    name: `idle-${i}`,
    manifest: idle.manifest,
    entryPath: idle.entryPath,
    sha256: sha256Hex(CODE.idle),
    config: {},
    stateFile: path.join(root, `idle-${i}.json`),
  });
  starts.push(performance.now() - started);
}
await host.call('idle-0', 'collect');
const rssAfter = rssOf(pid);
starts.sort((a, b) => a - b);
figures.plugin_start_ms_median = Math.round((starts[Math.floor(starts.length / 2)] ?? 0) * 100) / 100;
figures.plugin_start_ms_max = Math.round((starts.at(-1) ?? 0) * 100) / 100;
figures.idle_plugin_rss_bytes = Math.round((rssAfter - rssBefore) / IDLE_PLUGINS);
console.log(
  `plugin start (load + start() through the host): median ${figures.plugin_start_ms_median} ms, max ${figures.plugin_start_ms_max} ms; ` +
    `idle plugin: ${(figures.idle_plugin_rss_bytes / 1024 / 1024).toFixed(2)} MiB RSS each (${IDLE_PLUGINS} loaded)`,
);
await host.close();
fs.rmSync(root, { recursive: true, force: true });
report('plugins', figures);
