/**
 * The processes the end-to-end benches run and measure: the agent built as npm installs it, a real
 * collector with a real agent shipping to it, and their CPU and memory read from /proc.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { ControlClient } from '../packages/agent-core/src/index.ts';
import {
  type RunningAgent,
  type RunningCollector,
  repoRoot,
  startAgent,
  startCollector,
  waitFor,
} from '../test/e2e/harness.ts';

export interface ProcessUsage {
  /** User + system, so far. */
  cpuSeconds: number;
  /** Resident set: counts shared pages (the node binary, libraries) in full. */
  rssBytes: number;
  peakRssBytes: number;
}

/** CPU seconds and current and peak RSS of another process, from /proc/<pid>/stat and status. */
export function processUsage(pid: number): ProcessUsage {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { cpuSeconds: ticks / 100, rssBytes: kB(status, 'VmRSS'), peakRssBytes: kB(status, 'VmHWM') };
}

/**
 * Proportional set size: shared pages split among the processes mapping them. Apart from
 * processUsage because smaps_rollup walks the process's page tables, too costly to sample often.
 */
export function pssBytes(pid: number): number {
  return kB(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
}

function kB(text: string, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
}

/**
 * Builds the agent as npm installs it (its tsup bundle and those of the workspace packages it
 * loads; under type stripping its sources take about 30 MB more RSS) and returns its entry.
 */
export function buildAgentDist(): string {
  for (const pkg of ['plugin-sdk', 'service', 'agent-core']) {
    execFileSync('pnpm', ['exec', 'tsup', '--silent'], {
      cwd: join(repoRoot, 'packages', pkg),
      stdio: 'inherit',
    });
  }
  return join(repoRoot, 'packages/agent-core/dist/cli/outpost-agent.js');
}

export interface AgentLaunch {
  /** The built entry from buildAgentDist; the sources when absent. */
  bin?: string;
  /** NODE_OPTIONS for the agent alone (its plugin host inherits them). */
  nodeOptions?: string;
}

/** An agent enrolled with `collector`'s token. */
export function startBenchAgent(
  dir: string,
  collector: RunningCollector,
  yaml: string,
  launch: AgentLaunch = {},
): Promise<RunningAgent> {
  // A built agent runs as installed: without the toolchain's --conditions=outpost-source, which
  // would load the workspace packages from their sources.
  const nodeOptions = launch.nodeOptions ?? (launch.bin === undefined ? undefined : '');
  return startAgent(
    dir,
    yaml,
    {
      OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
      ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
    },
    launch.bin,
  );
}

export interface Shipping {
  collector: RunningCollector;
  agent: RunningAgent;
  client: ControlClient;
  usage(): { agent: ProcessUsage; collector: ProcessUsage };
  stop(): Promise<void>;
}

/**
 * A real collector and a real agent shipping to it in batches of up to 2000 records, with no
 * system or process inputs (only what the bench feeds it counts). Resolves once the agent has
 * registered, so the clock starts with the enrollment done.
 */
export async function startShipping(
  dir: string,
  options: { queueMaxBytes: string; inputs?: string } & AgentLaunch,
): Promise<Shipping> {
  const collector = await startCollector(join(dir, 'collector'));
  // An agent that does not start (e.g. a flag NODE_OPTIONS refuses) must not leave the collector running.
  const agent = await startBenchAgent(
    dir,
    collector,
    `collector:
  url: ${collector.url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
agent:
  state_dir: ${join(dir, 'agent')}
inputs:
  system:
    enabled: false
  processes:
    enabled: false
${options.inputs ?? ''}queue:
  max_bytes: ${options.queueMaxBytes}
send:
  batch_max_records: 2000
  batch_max_bytes: 1MiB
  batch_max_wait: 20ms
`,
    options,
  ).catch(async (err: unknown) => {
    await collector.proc.stop('SIGTERM');
    throw err;
  });
  const client = new ControlClient(agent.socket, { timeoutMs: 60_000 });
  await waitFor('the agent to register', async () => {
    const s = await client.get<{ collector: { registered: boolean } }>('/v1/status');
    return s.collector.registered ? true : undefined;
  });
  const agentPid = agent.proc.child.pid as number;
  const collectorPid = collector.proc.child.pid as number;
  return {
    collector,
    agent,
    client,
    usage: () => ({ agent: processUsage(agentPid), collector: processUsage(collectorPid) }),
    async stop() {
      await client.close();
      await agent.proc.stop('SIGTERM');
      await collector.proc.stop('SIGTERM');
    },
  };
}
