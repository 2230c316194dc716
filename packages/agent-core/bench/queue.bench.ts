/**
 * Queue enqueue and lease+ack rates of 200-byte records, at durability normal and full, and the
 * process CPU each costs per record (steadier than rates on a machine shared with other work).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { rate, record200, report } from '../../../bench/report.ts';
import { Queue } from '../src/index.ts';

const RECORDS = Number(process.env.BENCH_QUEUE_RECORDS ?? 200_000);
const PER_ENQUEUE = 100;
const figures: Record<string, number> = {};
const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
const perRecord = (micros: number, records: number) => Number((micros / records).toFixed(2));

for (const durability of ['normal', 'full'] as const) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-queue-'));
  const queue = Queue.open({
    path: path.join(dir, 'queue.db'),
    maxBytes: 4 * 1024 ** 3,
    policy: 'drop_oldest',
    durability,
    logger: pino({ level: 'silent' }),
  });
  const records = Array.from({ length: RECORDS }, (_, i) => record200(i));
  let started = performance.now();
  let cpu = cpuMicros();
  for (let i = 0; i < RECORDS; i += PER_ENQUEUE) queue.enqueue(records.slice(i, i + PER_ENQUEUE));
  figures[`enqueue_${durability}_per_s`] = rate(RECORDS, performance.now() - started);
  figures[`enqueue_${durability}_cpu_us`] = perRecord(cpuMicros() - cpu, RECORDS);

  started = performance.now();
  cpu = cpuMicros();
  let drained = 0;
  for (let batch = queue.lease({ maxRecords: 1000, maxBytes: 1 << 20 }); batch; ) {
    // As the sender reads a batch: its records spliced as stored, not parsed.
    drained += batch.stored?.seqs.length ?? batch.records.length;
    queue.ack(batch.seq);
    batch = queue.lease({ maxRecords: 1000, maxBytes: 1 << 20 });
  }
  figures[`lease_ack_${durability}_per_s`] = rate(drained, performance.now() - started);
  figures[`lease_ack_${durability}_cpu_us`] = perRecord(cpuMicros() - cpu, drained);
  await queue.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    `queue ${durability}: enqueue ${figures[`enqueue_${durability}_per_s`]}/s, ${figures[`enqueue_${durability}_cpu_us`]} CPU µs/record (${PER_ENQUEUE} per call); ` +
      `lease+ack ${figures[`lease_ack_${durability}_per_s`]}/s, ${figures[`lease_ack_${durability}_cpu_us`]} CPU µs/record (1000 per batch)`,
  );
}
report('queue', figures);
