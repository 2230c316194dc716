/**
 * End to end: 200-byte records pushed into a real agent process (the route agentctl emit uses,
 * answered after the commit) until a real collector process has acknowledged all of them.
 */
import { join } from 'node:path';
import { ControlClient } from '../packages/agent-core/src/index.ts';
import { startAgent, startCollector, tempDir, waitFor } from '../test/e2e/harness.ts';
import { processUsage, rate, record200, report } from './report.ts';

const RECORDS = Number(process.env.BENCH_E2E_RECORDS ?? 300_000);
const PER_PUSH = 5000;
const PUSHERS = 2;

using dir = tempDir('bench-e2e');
const collector = await startCollector(join(dir.path, 'collector'));
const agent = await startAgent(
  dir.path,
  `collector:
  url: ${collector.url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
agent:
  state_dir: ${join(dir.path, 'agent')}
inputs:
  system:
    enabled: false
  processes:
    enabled: false
queue:
  max_bytes: 2GiB
send:
  batch_max_records: 2000
  batch_max_bytes: 1MiB
  batch_max_wait: 20ms
`,
  { OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken },
);
const client = new ControlClient(agent.socket, { timeoutMs: 60_000 });
type Status = {
  queue: { depth: number };
  sender: { recordsSent: number; bytesRaw: number; bytesSent: number };
};
await waitFor('the agent to register', async () => {
  const s = await client.get<{ collector: { registered: boolean } }>('/v1/status');
  return s.collector.registered ? true : undefined;
});

const pushes: Array<Array<ReturnType<typeof record200>>> = [];
for (let i = 0; i < RECORDS; i += PER_PUSH) {
  pushes.push(Array.from({ length: Math.min(PER_PUSH, RECORDS - i) }, (_, j) => record200(i + j)));
}
const agentBefore = processUsage(agent.proc.child.pid!);
const collectorBefore = processUsage(collector.proc.child.pid!);
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
const agentAfter = processUsage(agent.proc.child.pid!);
const collectorAfter = processUsage(collector.proc.child.pid!);
await client.close();
await agent.proc.stop('SIGTERM');
await collector.proc.stop('SIGTERM');

const figures = {
  records: RECORDS,
  accepted_per_s: rate(RECORDS, acceptedMs),
  end_to_end_per_s: rate(RECORDS, totalMs),
  compressed_to_raw: Number((final.sender.bytesSent / final.sender.bytesRaw).toFixed(4)),
  agent_cpu_s: Number((agentAfter.cpuSeconds - agentBefore.cpuSeconds).toFixed(2)),
  agent_peak_rss_mb: Math.round(agentAfter.peakRssBytes / 2 ** 20),
  collector_cpu_s: Number((collectorAfter.cpuSeconds - collectorBefore.cpuSeconds).toFixed(2)),
  collector_peak_rss_mb: Math.round(collectorAfter.peakRssBytes / 2 ** 20),
};
console.log(
  `e2e: ${RECORDS} records of 200 B, accepted at ${figures.accepted_per_s}/s, stored at the collector at ${figures.end_to_end_per_s}/s; ` +
    `zstd ${figures.compressed_to_raw}; agent ${figures.agent_cpu_s} CPU s, ${figures.agent_peak_rss_mb} MB peak; ` +
    `collector ${figures.collector_cpu_s} CPU s, ${figures.collector_peak_rss_mb} MB peak`,
);
report('e2e', figures);
