// Throughput of the processor chain alone: parse json + filter + redact over 200-byte log lines,
// in batches of 1000 as an input would hand them over. Prints figures; asserts nothing.
import type { OutpostRecord } from '@outpost/plugin-sdk';
import pino from 'pino';
import { report } from '../../../bench/report.ts';
import { Pipeline, processorsSchema } from '../src/process/index.ts';

const BATCH = 1000;
const BATCHES = 500;
const LEVELS = ['debug', 'info', 'info', 'info', 'warn', 'error'];

function line(i: number): string {
  const base = {
    time: new Date(1736942400000 + i).toISOString(),
    level: LEVELS[i % LEVELS.length],
    msg: i % 7 === 0 ? 'login ok token=sk_live_4eC39HqLyjWDarjt' : 'GET /api/orders served',
    req: { id: `r-${i}`, path: '/api/orders', status: 200 },
    duration_ms: i % 250,
  };
  const text = JSON.stringify(base);
  return JSON.stringify({ ...base, pad: 'x'.repeat(Math.max(0, 200 - text.length - 10)) });
}

const batches: OutpostRecord[][] = [];
for (let b = 0; b < BATCHES; b++) {
  const batch: OutpostRecord[] = [];
  for (let i = 0; i < BATCH; i++) {
    const n = b * BATCH + i;
    batch.push({
      kind: 'log',
      ts: 1736942400000 + n,
      name: '/var/log/app/app.log',
      body: line(n),
      attrs: { 'log.file.path': '/var/log/app/app.log', 'host.name': 'web-1' },
      source: 'log',
    });
  }
  batches.push(batch);
}
const bytes =
  (batches[0] as OutpostRecord[]).reduce((sum, r) => sum + Buffer.byteLength(r.body ?? ''), 0) / BATCH;

const config = processorsSchema.parse([
  {
    type: 'parse',
    format: 'json',
    timestamp: { field: 'time', format: 'rfc3339' },
    level: { field: 'level' },
  },
  { type: 'filter', drop: { attrs: { level: 'debug' } } },
  { type: 'transform', redact: { pattern: 'sk_live_[0-9a-zA-Z]+' } },
]);
const pipeline = Pipeline.create(config, { logger: pino({ level: 'silent' }), emit: () => {} });

async function run(count: number): Promise<{ seconds: number; cpu: number; out: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let out = 0;
  for (let b = 0; b < count; b++)
    out += (await pipeline.process(batches[b % BATCHES] as OutpostRecord[])).length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu0);
  return { seconds, cpu: (used.user + used.system) / 1e6, out };
}

await run(50);
const rounds = [];
for (let r = 0; r < 3; r++) rounds.push(await run(BATCHES));
await pipeline.close();

const lines = BATCH * BATCHES;
console.log(
  `pipeline: parse json + filter + redact, ${lines} lines of ~${Math.round(bytes)} bytes per round`,
);
for (const [i, r] of rounds.entries()) {
  console.log(
    `round ${i + 1}: ${Math.round(lines / r.seconds).toLocaleString('en')} records/s, ` +
      `${(r.cpu / (lines / 1e6)).toFixed(2)} CPU s per million lines, ${r.out} kept`,
  );
}
console.log(`stats: ${JSON.stringify(pipeline.stats())}`);
const best = rounds.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
report('pipeline', {
  records_per_s: Math.round(lines / best.seconds),
  cpu_s_per_million: Number((best.cpu / (lines / 1e6)).toFixed(2)),
});
