/**
 * End to end: 200-byte records pushed into a real agent process (the route agentctl emit uses,
 * answered after the commit) until a real collector process has acknowledged all of them.
 */
import { tempDir, waitFor } from '../test/e2e/harness.ts';
import { startShipping } from './processes.ts';
import { rate, record200, report } from './report.ts';

const RECORDS = Number(process.env.BENCH_E2E_RECORDS ?? 300_000);
const PER_PUSH = 5000;
const PUSHERS = 2;

using dir = tempDir('bench-e2e');
const shipping = await startShipping(dir.path, { queueMaxBytes: '2GiB' });
const { client } = shipping;
type Status = {
  queue: { depth: number };
  sender: { recordsSent: number; bytesRaw: number; bytesSent: number };
};

const pushes: Array<Array<ReturnType<typeof record200>>> = [];
for (let i = 0; i < RECORDS; i += PER_PUSH) {
  pushes.push(Array.from({ length: Math.min(PER_PUSH, RECORDS - i) }, (_, j) => record200(i + j)));
}
const before = shipping.usage();
const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: PUSHERS }, async () => {
    while (next < pushes.length) {
      const records = pushes[next++]!;
      await client.post('/v1/records', { records });
    }
  }),
);
const acceptedMs = performance.now() - started;
const final = await waitFor(
  'the collector to acknowledge every record',
  async () => {
    const s = await client.get<Status>('/v1/status');
    return s.queue.depth === 0 && s.sender.recordsSent >= RECORDS ? s : undefined;
  },
  { timeoutMs: 600_000, intervalMs: 20 },
);
const totalMs = performance.now() - started;
const after = shipping.usage();
await shipping.stop();

const figures = {
  records: RECORDS,
  accepted_per_s: rate(RECORDS, acceptedMs),
  end_to_end_per_s: rate(RECORDS, totalMs),
  compressed_to_raw: Number((final.sender.bytesSent / final.sender.bytesRaw).toFixed(4)),
  agent_cpu_s: Number((after.agent.cpuSeconds - before.agent.cpuSeconds).toFixed(2)),
  agent_peak_rss_mb: Math.round(after.agent.peakRssBytes / 2 ** 20),
  collector_cpu_s: Number((after.collector.cpuSeconds - before.collector.cpuSeconds).toFixed(2)),
  collector_peak_rss_mb: Math.round(after.collector.peakRssBytes / 2 ** 20),
};
console.log(
  `e2e: ${RECORDS} records of 200 B, accepted at ${figures.accepted_per_s}/s, stored at the collector at ${figures.end_to_end_per_s}/s; ` +
    `zstd ${figures.compressed_to_raw}; agent ${figures.agent_cpu_s} CPU s, ${figures.agent_peak_rss_mb} MB peak; ` +
    `collector ${figures.collector_cpu_s} CPU s, ${figures.collector_peak_rss_mb} MB peak`,
);
report('e2e', figures);
