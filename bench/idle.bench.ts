/**
 * Idle cost: a real agent on its default config (system metrics every 10 s, 3 processes, the
 * hello-collector example plugin every 10 s) shipping to a real collector, side by side with
 * collectd configured for the same metrics (cpu, memory, load, df, interface, processes every
 * 10 s, written to a local CSV), for BENCH_IDLE_SECONDS (default 300). The agent runs as shipped
 * (built dist/, no type stripping). CPU% (of one core) and memory come from /proc/<pid>/stat,
 * status and smaps_rollup, after a warm-up so start-up costs are left out. The agent is two
 * processes (the daemon and its plugin-host child) that share the node binary's pages, so besides
 * each one's RSS and PSS it reports the agent's footprint: the union of both processes' resident
 * pages, each physical page counted once (bench/resident-pages.ts). Targets: under 1% of a core
 * and under 80 MB, compared with that footprint; the daemon's own RSS is held to them too.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentctl, repoRoot, startCollector, tempDir } from '../test/e2e/harness.ts';
import { buildAgentDist, type ProcessUsage, processUsage, pssBytes, startBenchAgent } from './processes.ts';
import { report } from './report.ts';
import { type ResidentPages, residentPages } from './resident-pages.ts';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 300);
// NODE_OPTIONS for the agent (its plugin host inherits them), to measure a V8 flag before it is
// recommended; empty by default: the agent runs as installed.
const AGENT_NODE_OPTIONS = process.env.BENCH_IDLE_NODE_OPTIONS ?? '';
const WARMUP_SECONDS = 15;
const RSS_EVERY_MS = 5000;

type Usage = Pick<ProcessUsage, 'cpuSeconds' | 'rssBytes'> & {
  /** Proportional set: shared pages split among the processes mapping them. */
  pssBytes: number;
};

/** CPU seconds so far and memory of one process. */
function usage(pid: number): Usage {
  const { cpuSeconds, rssBytes } = processUsage(pid);
  return { cpuSeconds, rssBytes, pssBytes: pssBytes(pid) };
}

function sum(usages: Usage[]): Usage {
  return usages.reduce(
    (a, b) => ({
      cpuSeconds: a.cpuSeconds + b.cpuSeconds,
      rssBytes: a.rssBytes + b.rssBytes,
      pssBytes: a.pssBytes + b.pssBytes,
    }),
    { cpuSeconds: 0, rssBytes: 0, pssBytes: 0 },
  );
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text !== '') out.push(...text.split(' ').map(Number));
  }
  return out;
}

function findCollectd(): string | null {
  for (const path of ['/usr/sbin/collectd', '/usr/bin/collectd']) {
    if (spawnSync(path, ['-h'], { stdio: 'ignore' }).error === undefined) return path;
  }
  return null;
}

function collectdConf(dir: string): string {
  return `Hostname "outpost-bench"
FQDNLookup false
Interval 10
BaseDir "${dir}"
PIDFile "${join(dir, 'collectd.pid')}"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
LoadPlugin df
LoadPlugin interface
LoadPlugin processes
LoadPlugin csv
<Plugin cpu>
  ReportByCpu true
  ValuesPercentage true
</Plugin>
<Plugin processes>
  Process "collectd"
  ProcessMatch "outpost-agent" "outpost-agent"
  ProcessMatch "outpost-collector" "outpost-collector"
</Plugin>
<Plugin csv>
  DataDir "${join(dir, 'csv')}"
  StoreRates false
</Plugin>
`;
}

interface Watched {
  name: string;
  /** How the output line names it, where the figure's name alone would mislead. */
  label?: string;
  read: () => Usage;
  start?: { cpuSeconds: number; at: number };
  rss: number[];
  pss: number[];
}

// An agent built elsewhere (e.g. `tsup --out-dir .dist-mine` inside packages/agent-core, so that
// its node_modules resolve): dist/ is shared with the other benches, which rebuild it.
const agentBin = process.env.BENCH_IDLE_AGENT_BIN ?? buildAgentDist();

using dir = tempDir('bench-idle');
const collector = await startCollector(join(dir.path, 'collector'));
const collectdBin = findCollectd();
let collectd: ChildProcess | null = null;
if (collectdBin === null) {
  process.stdout.write('collectd not found (apt-get install -y collectd-core): measuring the agent alone\n');
} else {
  const collectdDir = join(dir.path, 'collectd');
  mkdirSync(join(collectdDir, 'csv'), { recursive: true });
  writeFileSync(join(collectdDir, 'collectd.conf'), collectdConf(collectdDir));
  // -f: stay in the foreground, so the pid is the one measured and it stops with this process.
  const child = spawn(collectdBin, ['-f', '-C', join(collectdDir, 'collectd.conf')], { stdio: 'ignore' });
  // A bench that fails half-way must not leave collectd running.
  process.on('exit', () => child.kill('SIGTERM'));
  collectd = child;
}

// The default config apart from where it sends and keeps its state; three processes watched.
const agentConfig = `collector:
  url: ${collector.url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
agent:
  state_dir: ${join(dir.path, 'agent')}
inputs:
  processes:
    self: true
    match:
      - pid: ${collector.proc.child.pid}
      - name: collectd
`;
const startIdleAgent = () =>
  startBenchAgent(dir.path, collector, agentConfig, { bin: agentBin, nodeOptions: AGENT_NODE_OPTIONS });
const installing = await startIdleAgent();
const packed = await agentctl([
  'plugin',
  'pack',
  join(repoRoot, 'examples/plugins/hello-collector'),
  '--out-dir',
  dir.path,
  '--json',
]);
const tgz = packed.code === 0 ? (JSON.parse(packed.stdout) as { file: string }) : null;
const installed = tgz && (await agentctl(['plugin', 'install', tgz.file, '--socket', installing.socket]));
const plugins = installed?.code === 0 ? 1 : 0;
process.stdout.write(
  plugins === 1
    ? 'plugin hello-collector installed (collects every 10 s)\n'
    : `plugin not installed, measuring without one: ${packed.stderr}${installed?.stderr ?? ''}\n`,
);
// Measured as a host runs after a boot, with the plugin already installed: what the install
// itself loaded (tar, the manifest validator) is not part of the idle cost.
await installing.proc.stop('SIGTERM');
const agent = await startIdleAgent();

const agentPid = agent.proc.child.pid as number;
const watched: Watched[] = [
  { name: 'agent_daemon', read: () => usage(agentPid), rss: [], pss: [] },
  // The plugin-host child (restarted with a new pid if it dies: its CPU then counts from 0 again).
  { name: 'agent_plugin_host', read: () => sum(children(agentPid).map(usage)), rss: [], pss: [] },
  // Summed over both processes: RSS and PSS count the pages they share once per process.
  {
    name: 'agent',
    label: 'agent, summed',
    read: () => sum([agentPid, ...children(agentPid)].map(usage)),
    rss: [],
    pss: [],
  },
];
const footprints: ResidentPages[] = [];
const collectdPid = collectd?.pid;
if (collectdPid !== undefined)
  watched.push({ name: 'collectd', read: () => usage(collectdPid), rss: [], pss: [] });
const collectorPid = collector.proc.child.pid as number;
watched.push({ name: 'collector', read: () => usage(collectorPid), rss: [], pss: [] });

await sleep(WARMUP_SECONDS * 1000);
for (const w of watched) w.start = { cpuSeconds: w.read().cpuSeconds, at: performance.now() };
const until = performance.now() + SECONDS * 1000;
while (performance.now() < until) {
  for (const w of watched) {
    const u = w.read();
    w.rss.push(u.rssBytes);
    w.pss.push(u.pssBytes);
  }
  footprints.push(residentPages([agentPid, ...children(agentPid)]));
  await sleep(Math.min(RSS_EVERY_MS, Math.max(0, until - performance.now())));
}

const figures: Record<string, number | string> = { seconds_measured: SECONDS, agent_plugins: plugins };
if (AGENT_NODE_OPTIONS !== '') figures.agent_node_options = AGENT_NODE_OPTIONS;
const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;
for (const w of watched) {
  const now = w.read();
  const start = w.start as { cpuSeconds: number; at: number };
  const cpuPercent = ((now.cpuSeconds - start.cpuSeconds) / ((performance.now() - start.at) / 1000)) * 100;
  figures[`${w.name}_cpu_percent`] = Math.round(cpuPercent * 1000) / 1000;
  figures[`${w.name}_rss_avg_mb`] = mb(w.rss.reduce((a, b) => a + b, 0) / w.rss.length);
  figures[`${w.name}_rss_max_mb`] = mb(Math.max(...w.rss));
  figures[`${w.name}_pss_max_mb`] = mb(Math.max(...w.pss));
  process.stdout.write(
    `${(w.label ?? w.name).padEnd(17)} cpu ${cpuPercent.toFixed(3)}% of one core  rss avg ${figures[`${w.name}_rss_avg_mb`]} MB, max ${figures[`${w.name}_rss_max_mb`]} MB  pss max ${figures[`${w.name}_pss_max_mb`]} MB\n`,
  );
}
if (collectd === null) figures.collectd = 'absent';
const largest = footprints.reduce((a, b) => (b.unionBytes > a.unionBytes ? b : a));
figures.agent_footprint_method = largest.method;
figures.agent_footprint_avg_mb = mb(footprints.reduce((a, b) => a + b.unionBytes, 0) / footprints.length);
figures.agent_footprint_max_mb = mb(largest.unionBytes);
figures.agent_footprint_max_file_mb = mb(largest.fileBytes);
figures.agent_footprint_max_shared_mb = mb(largest.sharedBytes);
process.stdout.write(
  `agent footprint   avg ${figures.agent_footprint_avg_mb} MB, max ${figures.agent_footprint_max_mb} MB: the daemon's and the plugin host's resident pages, each counted once (${largest.method}); at the max ${figures.agent_footprint_max_file_mb} MB file-backed (node binary, libraries), ${figures.agent_footprint_max_shared_mb} MB resident in both processes\n`,
);
const verdict = (cpu: number, memory: number) => (cpu < 1 && memory < 80 ? 'met' : 'missed');
figures.target_agent_footprint = verdict(
  figures.agent_cpu_percent as number,
  figures.agent_footprint_max_mb as number,
);
figures.target_daemon_rss = verdict(
  figures.agent_daemon_cpu_percent as number,
  figures.agent_daemon_rss_max_mb as number,
);
process.stdout.write(
  `target < 1% of a core and < 80 MB: agent (CPU of both processes, footprint max) ${figures.target_agent_footprint}; daemon alone (its CPU, its RSS max) ${figures.target_daemon_rss}\n`,
);

await agent.proc.stop('SIGTERM');
collectd?.kill('SIGTERM');
await collector.proc.stop('SIGTERM');
report('idle', figures);
