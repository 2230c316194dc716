/**
 * Collector ingest alone, in one process: batches shaped as the agent sends them (its JSON layout,
 * zstd) go through the POST /api/v1/agent/data path minus HTTP (decodeBody, then ingestBatch into a
 * real SQLite store) and this prints the CPU microseconds per stored record, split by stage, for
 * 200-byte records (bench/e2e) and for 200-byte log lines as the logfile input makes them.
 *   BENCH_INGEST_RECORDS=200000 bash scripts/with-toolchain.sh node packages/collector/bench/ingest.bench.ts
 * BENCH_INGEST_BATCH (default 2000, the e2e benches' batch_max_records) sets the records per batch:
 * smaller batches show the fixed cost of each (decode set-up, transaction, commit).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compress } from 'zstd-napi';
import { logLine, record200, report } from '../../../bench/report.ts';
import { decodeBody, ingestBatch } from '../src/ingest/index.ts';
import { openSqliteStore } from '../src/store/index.ts';

const RECORDS = Number(process.env.BENCH_INGEST_RECORDS ?? 200_000);
const PER_BATCH = Number(process.env.BENCH_INGEST_BATCH ?? 2000);
const AGENT = 'agt_0123456789abcdef01234567';

type WireRecord = Record<string, unknown>;

const shapes: Record<string, (n: number) => WireRecord> = {
  record200: (n) => {
    const { kind, ts, name, attrs, source } = record200(n);
    return { seq: n + 1, kind, ts, name, attrs, source };
  },
  log200: (n) => ({
    seq: n + 1,
    kind: 'log',
    ts: 1_764_000_000_000 + n,
    name: 'app',
    body: logLine(n).slice(0, -1),
    attrs: { 'log.file.path': '/var/log/app/app.log', 'log.file.name': 'app.log', 'host.name': 'web-1' },
    source: 'log',
  }),
};

/** Microseconds of this process's CPU (user + system) per record. */
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function run(shape: string): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-ingest-'));
  const store = await openSqliteStore({ file: path.join(dir, 'collector.db') });
  try {
    await store.registerAgent({
      id: AGENT,
      hostname: 'bench',
      labels: {},
      version: '0.1.0',
      secretSha256: 'ab'.repeat(32),
      registeredAt: 0,
    });
    const bodies: Buffer[] = [];
    for (let first = 0; first < RECORDS; first += PER_BATCH) {
      const records = Array.from({ length: Math.min(PER_BATCH, RECORDS - first) }, (_, i) =>
        shapes[shape]!(first + i),
      );
      const agent = { id: AGENT, hostname: 'web-1', labels: { env: 'prod' } };
      const batch = { seq: bodies.length + 1, createdAt: Date.now() };
      bodies.push(compress(Buffer.from(JSON.stringify({ agent, batch, records }))));
    }
    const limits = { maxDecompressedBytes: 64 * 2 ** 20 };
    let decodeUs = 0;
    let ingestUs = 0;
    for (const [i, raw] of bodies.entries()) {
      const t0 = cpuMicros();
      const { value, bytes } = decodeBody(raw, 'zstd', limits);
      const t1 = cpuMicros();
      await ingestBatch(store, {
        agentId: AGENT,
        idempotencyKey: `${AGENT}-${i + 1}`,
        body: value,
        bytes,
        maxRecordsPerBatch: 10_000,
        now: Date.now(),
      });
      decodeUs += t1 - t0;
      ingestUs += cpuMicros() - t1;
    }
    const per = (us: number) => Number((us / RECORDS).toFixed(2));
    return { decode_us: per(decodeUs), ingest_us: per(ingestUs), total_us: per(decodeUs + ingestUs) };
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const figures: Record<string, Record<string, number>> = {};
for (const shape of Object.keys(shapes)) {
  figures[shape] = await run(shape);
  const f = figures[shape]!;
  console.log(
    `ingest ${shape}: ${RECORDS} records, ${f.total_us} CPU µs per record (decode ${f.decode_us}, validate + store ${f.ingest_us})`,
  );
}
report('collector-ingest', figures);
