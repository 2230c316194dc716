/**
 * Retention rollups: how fast raw metric records fold into hourly rollups, and how long reading a
 * week back takes from them (what the status page's 7-day range asks for, per chart).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rate, report } from '../../../bench/report.ts';
import { type IngestRecord, openSqliteStore } from '../src/store/index.ts';

const HOUR = 3_600_000;
const DAYS = Number(process.env.BENCH_ROLLUP_DAYS ?? 7);
const SERIES = Number(process.env.BENCH_ROLLUP_SERIES ?? 8);
const INTERVAL_MS = 60_000;
const CHUNK = 2000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-rollups-'));
const store = await openSqliteStore({ file: path.join(dir, 'collector.db') });
await store.registerAgent({
  id: 'agt_bench',
  hostname: 'bench',
  labels: {},
  version: '0.1.0',
  secretSha256: 'ab'.repeat(32),
  registeredAt: 0,
});
const end = Math.floor(Date.now() / HOUR) * HOUR;
const start = end - DAYS * 24 * HOUR;
let seq = 0;
let batch: IngestRecord[] = [];
const flush = async () => {
  const records = batch;
  batch = [];
  await store.transaction((tx) => tx.insertRecords('agt_bench', records, end).then(() => undefined));
};
for (let ts = start; ts < end; ts += INTERVAL_MS) {
  for (let cpu = 0; cpu < SERIES; cpu++) {
    batch.push({
      seq: ++seq,
      kind: 'metric',
      ts,
      name: 'system.cpu.utilization',
      value: Math.random(),
      unit: '1',
      attrs: { 'cpu.logical_number': cpu },
      source: 'system',
    });
  }
  if (batch.length >= 5000) await flush();
}
await flush();

let started = performance.now();
let rolled = 0;
for (let n = CHUNK; n === CHUNK; rolled += n) n = await store.alerts.rollupNext(CHUNK);
const rollupMs = performance.now() - started;

started = performance.now();
let rows = 0;
let after: { hour: number; id: number } | undefined;
for (;;) {
  const page = await store.alerts.queryRollups({
    agentId: 'agt_bench',
    name: 'system.cpu.utilization',
    from: start,
    limit: 10_000,
    after,
  });
  rows += page.rollups.length;
  const last = page.rollups.at(-1);
  if (!page.more || !last) break;
  after = { hour: last.hour, id: last.id };
}
const readMs = performance.now() - started;
await store.close();
fs.rmSync(dir, { recursive: true, force: true });

const figures = {
  records: rolled,
  rollup_records_per_s: rate(rolled, rollupMs),
  week_rollup_rows: rows,
  week_read_ms: Math.round(readMs * 10) / 10,
};
console.log(
  `rollups: ${rolled} records (${DAYS} d, ${SERIES} series, every ${INTERVAL_MS / 1000}s) folded at ${figures.rollup_records_per_s}/s; reading ${rows} hourly rows back took ${figures.week_read_ms} ms`,
);
report('rollups', figures);
