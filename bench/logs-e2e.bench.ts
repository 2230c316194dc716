/**
 * Log file to collector: a real agent process tails a file of 200-byte lines while this process
 * appends to it, until a real collector process has stored every line. Prints lines/s end to end,
 * the agent's CPU seconds per million lines, and its RSS when idle and at peak.
 *   BENCH_LOGS_LINES=5000000 bash scripts/with-toolchain.sh node bench/logs-e2e.bench.ts
 * 5,000,000 lines (1 GB) by default, the size the issue asks the RSS figure for. The agent runs as
 * installed, from a fresh dist/ build (tsup, under a second): run from its TypeScript sources, Node's
 * type stripping alone adds about 30 MB of RSS. BENCH_AGENT=source runs the sources instead;
 * BENCH_AGENT_NODE_OPTIONS (e.g. --max-semi-space-size=2) is handed to the agent process alone; the
 * agent's own --max-semi-space-size=8 (src/cli/daemon-flags.ts) then gives way, and
 * --max-semi-space-size=0 measures it with V8's default heap sizes. BENCH_AGENT_BIN runs an agent
 * entry built beforehand (e.g. `pnpm exec tsup --out-dir .dist-mine` in packages/agent-core, then
 * packages/agent-core/.dist-mine/cli/outpost-agent.js), so runs side by side do not share dist/.
 */
import fs from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, waitFor } from '../test/e2e/harness.ts';
import { buildAgentDist, processUsage, startShipping } from './processes.ts';
import { logLine, rate, report } from './report.ts';

const LINES = Number(process.env.BENCH_LOGS_LINES ?? 5_000_000);
const LINE_BYTES = 200;
const LINES_PER_WRITE = 5000;

function agentEntry(): { bin: string | undefined; from: string } {
  if (process.env.BENCH_AGENT === 'source') return { bin: undefined, from: 'source' };
  const prebuilt = process.env.BENCH_AGENT_BIN;
  if (prebuilt !== undefined && prebuilt !== '') return { bin: prebuilt, from: prebuilt };
  try {
    return { bin: buildAgentDist(), from: 'dist' };
  } catch (err) {
    console.log(`agent dist build failed (${(err as Error).message.split('\n')[0]}); measuring the sources`);
    return { bin: undefined, from: 'source' };
  }
}
const entry = agentEntry();

using dir = tempDir('bench-logs-e2e');
const logFile = join(dir.path, 'logs', 'app.log');
await fs.mkdir(join(dir.path, 'logs'));
await fs.writeFile(logFile, '');
const shipping = await startShipping(dir.path, {
  inputs: `  logs:
    - name: app
      paths: [${join(dir.path, 'logs', '*.log')}]
      start_at: beginning
`,
  queueMaxBytes: '4GiB',
  bin: entry.bin,
  nodeOptions: process.env.BENCH_AGENT_NODE_OPTIONS,
});
const { agent, client } = shipping;
type Status = {
  queue: { depth: number; dropped: Record<string, number> };
  sender: { recordsSent: number };
};

const before = shipping.usage();
const started = performance.now();
// Written while the agent reads, a chunk at a time with the event loop free between chunks, so
// the agent follows a growing file as it would a busy service's log.
const writing = (async () => {
  const out = await fs.open(logFile, 'a');
  try {
    for (let n = 0; n < LINES; n += LINES_PER_WRITE) {
      let chunk = '';
      for (let i = n; i < Math.min(LINES, n + LINES_PER_WRITE); i++) chunk += logLine(i, LINE_BYTES);
      await out.write(chunk);
    }
  } finally {
    await out.close();
  }
  return performance.now() - started;
})();
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, processUsage(agent.proc.child.pid!).rssBytes);
}, 100);
const writtenMs = await writing;
const final = await waitFor(
  'the collector to acknowledge every line',
  async () => {
    const s = await client.get<Status>('/v1/status');
    return s.queue.depth === 0 && s.sender.recordsSent >= LINES ? s : undefined;
  },
  { timeoutMs: 1_800_000, intervalMs: 100 },
);
const totalMs = performance.now() - started;
clearInterval(sampler);
const after = shipping.usage();
await shipping.stop();

const agentCpu = after.agent.cpuSeconds - before.agent.cpuSeconds;
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const figures = {
  lines: LINES,
  file_mb: mb(LINES * LINE_BYTES),
  written_per_s: rate(LINES, writtenMs),
  end_to_end_lines_per_s: rate(LINES, totalMs),
  agent_cpu_s_per_million: Number(((agentCpu * 1e6) / LINES).toFixed(2)),
  agent_idle_rss_mb: mb(before.agent.rssBytes),
  agent_peak_rss_mb: mb(Math.max(peakRss, after.agent.peakRssBytes)),
  collector_cpu_s_per_million: Number(
    (((after.collector.cpuSeconds - before.collector.cpuSeconds) * 1e6) / LINES).toFixed(2),
  ),
  dropped: Object.values(final.queue.dropped).reduce((sum, n) => sum + n, 0),
  agent_from: entry.from,
};
console.log(
  `logs e2e: ${LINES} lines of ${LINE_BYTES} B (${figures.file_mb} MB) stored at the collector at ${figures.end_to_end_lines_per_s} lines/s; ` +
    `agent ${figures.agent_cpu_s_per_million} CPU s per million lines, RSS ${figures.agent_idle_rss_mb} MB idle, ${figures.agent_peak_rss_mb} MB peak; ` +
    `${figures.dropped} dropped (agent from ${entry.from})`,
);
report('logs-e2e', figures);
