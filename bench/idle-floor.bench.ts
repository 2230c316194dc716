/**
 * The floor under the idle target (issue 8: the agent under 80 MB at idle): what two Node
 * processes cost before any Outpost code runs. ../shared/DESIGN.md has plugins run in a plugin-host
 * child process, never in the daemon (an out-of-memory abort in an isolate must not take the queue
 * down), and isolated-vm needs --no-node-snapshot there. Each row starts a fresh pair
 * (bench/idle-floor-process.mjs) with one more layer of what the design has them load, lets it
 * settle and counts both processes' resident pages once (bench/resident-pages.ts, as
 * bench/idle.bench.ts counts the agent's footprint).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../test/e2e/harness.ts';
import { report } from './report.ts';
import { residentPages } from './resident-pages.ts';

const SETTLE_MS = 10_000;
const PROCESS = new URL('./idle-floor-process.mjs', import.meta.url).pathname;

const STEPS: Array<{ name: string; label: string; daemon: string[]; host: string[] }> = [
  { name: 'bare', label: 'two bare node processes (host with --no-node-snapshot)', daemon: [], host: [] },
  {
    name: 'storage_isolate',
    label: '+ SQLite queue and zstd in the daemon, one isolate in the host',
    daemon: ['storage'],
    host: ['isolate'],
  },
  { name: 'pino', label: '+ pino', daemon: ['storage', 'pino'], host: ['isolate'] },
  {
    name: 'undici',
    label: '+ undici dispatchers (the sender)',
    daemon: ['storage', 'pino', 'undici'],
    host: ['isolate'],
  },
  {
    name: 'http',
    label: '+ node:http server (the control socket)',
    daemon: ['storage', 'pino', 'undici', 'http'],
    host: ['isolate'],
  },
];

async function start(
  role: string,
  dir: string,
  layers: string[],
  nodeFlags: string[],
): Promise<ChildProcess> {
  // NODE_OPTIONS emptied: the toolchain's --no-node-snapshot and source conditions are not the floor.
  const child = spawn(process.execPath, [...nodeFlags, PROCESS, role, dir, ...layers], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  if (!line.toString().startsWith('ready')) throw new Error(`idle floor ${role}: ${line}`);
  return child;
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const figures: Record<string, number | string> = {};
for (const step of STEPS) {
  using dir = tempDir('bench-idle-floor');
  const daemon = await start('daemon', dir.path, step.daemon, []);
  const host = await start('host', dir.path, step.host, ['--no-node-snapshot']);
  await sleep(SETTLE_MS);
  const pages = residentPages([daemon.pid as number, host.pid as number]);
  figures[`${step.name}_footprint_mb`] = mb(pages.unionBytes);
  figures[`${step.name}_daemon_rss_mb`] = Number(rssMb(daemon.pid as number).toFixed(1));
  figures[`${step.name}_host_rss_mb`] = Number(rssMb(host.pid as number).toFixed(1));
  figures.method = pages.method;
  process.stdout.write(
    `${step.label.padEnd(66)} footprint ${mb(pages.unionBytes)} MB (daemon RSS ${figures[`${step.name}_daemon_rss_mb`]}, host RSS ${figures[`${step.name}_host_rss_mb`]})\n`,
  );
  for (const child of [daemon, host]) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
report('idle_floor', figures);
