/**
 * End to end: 200-byte records pushed into a real agent process (the route agentctl emit uses,
 * answered after the commit) until a real collector process has acknowledged all of them.
 *
 * The push bodies are JSON-encoded before the clock starts: the producer stands for a script or a
 * program on the host, not for Outpost, and on 2 cores its JSON.stringify of 1 MB bodies takes CPU
 * from the agent and the collector it measures (about 0.6 µs per record). The HTTP sends stay timed.
 * BENCH_E2E_ENCODE=timed encodes each body inside the timed section instead (the older way).
 * BENCH_E2E_PUSHERS sets how many pushes are in flight at once (default 2).
 * BENCH_AGENT_NODE_OPTIONS adds Node flags to the agent alone, e.g. `--cpu-prof --cpu-prof-dir=DIR`
 * (flags NODE_OPTIONS does not take, such as --trace-gc, stop the agent from starting).
 */
import { setTimeout } from 'node:timers/promises';
import { tempDir, waitFor } from '../test/e2e/harness.ts';
import { startShipping } from './processes.ts';
import { rate, record200, report } from './report.ts';

const RECORDS = Number(process.env.BENCH_E2E_RECORDS ?? 300_000);
const ENCODE_TIMED = process.env.BENCH_E2E_ENCODE === 'timed';
const AGENT_FLAGS = process.env.BENCH_AGENT_NODE_OPTIONS;
const PER_PUSH = 5000;
const PUSHERS = Number(process.env.BENCH_E2E_PUSHERS ?? 2);

using dir = tempDir('bench-e2e');
const shipping = await startShipping(dir.path, {
  queueMaxBytes: '2GiB',
  // Appended to the toolchain's NODE_OPTIONS: the agent runs from its sources and needs them.
  ...(AGENT_FLAGS ? { nodeOptions: `${process.env.NODE_OPTIONS ?? ''} ${AGENT_FLAGS}`.trim() } : {}),
});
const { client } = shipping;
type Status = {
  queue: { depth: number };
  sender: { recordsSent: number; bytesRaw: number; bytesSent: number };
};

const pushes: Array<Array<ReturnType<typeof record200>>> = [];
for (let i = 0; i < RECORDS; i += PER_PUSH) {
  pushes.push(Array.from({ length: Math.min(PER_PUSH, RECORDS - i) }, (_, j) => record200(i + j)));
}
const bodies = ENCODE_TIMED ? [] : pushes.map((records) => JSON.stringify({ records }));
const before = shipping.usage();
const benchBefore = process.cpuUsage();
const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: PUSHERS }, async () => {
    while (next < pushes.length) {
      const i = next++;
      if (ENCODE_TIMED) await client.post('/v1/records', { records: pushes[i] });
      else await client.postJson('/v1/records', bodies[i]!);
    }
  }),
);
const acceptedMs = performance.now() - started;
const benchAccepted = process.cpuUsage(benchBefore);
const final = await allAcknowledged();
const totalMs = performance.now() - started;
const after = shipping.usage();
await shipping.stop();

/**
 * Polls the agent's status until the collector has acknowledged every record: often only near the
 * end, since each poll costs the agent CPU that the figures count as its own (polls every 20 ms
 * were 5-8% of the agent's CPU samples in a profile where the collector lagged). The next poll
 * comes after half the time the rest should take at the rate so far, between 10 and 250 ms.
 */
async function allAcknowledged(): Promise<Status> {
  return waitFor(
    'the collector to acknowledge every record',
    async () => {
      const s = await client.get<Status>('/v1/status');
      if (s.queue.depth === 0 && s.sender.recordsSent >= RECORDS) return s;
      const perMs = s.sender.recordsSent / (performance.now() - started);
      const restMs = perMs > 0 ? (RECORDS - s.sender.recordsSent) / perMs : 250;
      await setTimeout(Math.min(250, Math.max(10, restMs / 2)));
      return undefined;
    },
    { timeoutMs: 600_000, intervalMs: 0 },
  );
}

const cpuS = (s: number) => Number(s.toFixed(2));
const usPerRecord = (s: number) => Number(((s * 1e6) / RECORDS).toFixed(2));
const agentCpu = after.agent.cpuSeconds - before.agent.cpuSeconds;
const collectorCpu = after.collector.cpuSeconds - before.collector.cpuSeconds;
// The pushing only: the status polls that follow are not the producer's work.
const benchCpu = (benchAccepted.user + benchAccepted.system) / 1e6;
const figures = {
  records: RECORDS,
  bodies_encoded: ENCODE_TIMED ? 'timed' : 'before',
  accepted_per_s: rate(RECORDS, acceptedMs),
  end_to_end_per_s: rate(RECORDS, totalMs),
  compressed_to_raw: Number((final.sender.bytesSent / final.sender.bytesRaw).toFixed(4)),
  agent_cpu_s: cpuS(agentCpu),
  agent_cpu_us_per_record: usPerRecord(agentCpu),
  agent_peak_rss_mb: Math.round(after.agent.peakRssBytes / 2 ** 20),
  collector_cpu_s: cpuS(collectorCpu),
  collector_cpu_us_per_record: usPerRecord(collectorCpu),
  collector_peak_rss_mb: Math.round(after.collector.peakRssBytes / 2 ** 20),
  producer_cpu_s: cpuS(benchCpu),
  producer_cpu_us_per_record: usPerRecord(benchCpu),
};
console.log(
  `e2e: ${RECORDS} records of 200 B (bodies encoded ${figures.bodies_encoded}), accepted at ${figures.accepted_per_s}/s, ` +
    `stored at the collector at ${figures.end_to_end_per_s}/s; zstd ${figures.compressed_to_raw}; ` +
    `agent ${figures.agent_cpu_s} CPU s (${figures.agent_cpu_us_per_record} µs/record), ${figures.agent_peak_rss_mb} MB peak; ` +
    `collector ${figures.collector_cpu_s} CPU s (${figures.collector_cpu_us_per_record} µs/record), ${figures.collector_peak_rss_mb} MB peak; ` +
    `producer ${figures.producer_cpu_s} CPU s (${figures.producer_cpu_us_per_record} µs/record)`,
);
report('e2e', figures);
