/**
 * Heartbeats a collector answers per second with fleet control in play: every answer computes the
 * agent's desired config and plugins and delivers its commands. AGENTS agents heartbeat back to back
 * (CONCURRENCY at a time) over loopback HTTP against a real SQLite store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { report } from '../../../bench/report.ts';
import { createCollector, loadCollectorConfig } from '../src/index.ts';

const AGENTS = Number(process.env.BENCH_FLEET_AGENTS ?? 500);
const HEARTBEATS = Number(process.env.BENCH_FLEET_HEARTBEATS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_FLEET_CONCURRENCY ?? 16);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-fleet-'));
const config = await loadCollectorConfig({ values: { listen: '127.0.0.1:0', data_dir: dir }, env: {} });
const collector = await createCollector({ config, logger: pino({ level: 'silent' }) });
const admin = `Bearer ${collector.tokens.adminToken}`;
const post = async (route: string, body: unknown, auth: string, method = 'POST') => {
  const res = await fetch(`${collector.url}${route}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
};

const agents: string[] = [];
for (let i = 0; i < AGENTS; i++) {
  const { agentId, secret } = await post(
    '/api/v1/agent/register',
    {
      enrollmentToken: collector.tokens.enrollmentToken,
      hostname: `host-${i}`,
      labels: { role: i % 2 ? 'web' : 'db', zone: `z${i % 5}` },
      version: '0.1.0',
    },
    '',
  );
  agents.push(`Bearer ${agentId}.${secret}`);
}
// A realistic mix: a fleet-wide config, one per role, a few per agent, and pending commands.
await post('/api/v1/configs', { target: { labels: {} }, yaml: 'log:\n  level: info\n' }, admin);
await post('/api/v1/configs', { target: { labels: { role: 'web' } }, yaml: 'log:\n  level: debug\n' }, admin);
for (let i = 0; i < 20; i++) {
  const id = agents[i]!.slice('Bearer '.length).split('.')[0];
  await post('/api/v1/configs', { target: { agent: id }, yaml: 'log:\n  level: warn\n' }, admin);
  await post(`/api/v1/agents/${id}/commands`, { type: 'flush' }, admin);
}

const status = {
  version: '0.1.0',
  uptimeSec: 100,
  configVersion: 'sha256:x',
  queue: { depth: 0, bytes: 0, dropped: 0, deadLetter: 0 },
  cpuPercent: 0.5,
  rssBytes: 50_000_000,
  plugins: [{ name: 'nginx', version: '1.0.0', state: 'running' }],
};
const latencies: number[] = [];
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < HEARTBEATS) {
      const auth = agents[next++ % agents.length]!;
      const t0 = performance.now();
      await post('/api/v1/agent/heartbeat', status, auth);
      latencies.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => Math.round(latencies[Math.floor((latencies.length - 1) * p)]! * 100) / 100;
await collector.close();
fs.rmSync(dir, { recursive: true, force: true });

const perSecond = Math.round(HEARTBEATS / seconds);
console.log(
  `fleet heartbeats: ${HEARTBEATS} from ${AGENTS} agents in ${seconds.toFixed(1)} s = ${perSecond}/s; ` +
    `latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms (${CONCURRENCY} concurrent)`,
);
report('fleet-heartbeat', {
  agents: AGENTS,
  heartbeats: HEARTBEATS,
  perSecond,
  p50Ms: pct(0.5),
  p99Ms: pct(0.99),
  concurrency: CONCURRENCY,
});
