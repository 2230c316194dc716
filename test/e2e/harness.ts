/**
 * Real processes on loopback for end-to-end tests: a collector and agents started from their CLIs
 * exactly as a user starts them, with their logs kept for the failure message.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { Queue, type QueueStats } from '../../packages/agent-core/src/index.ts';

export const repoRoot = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const COLLECTOR_BIN = join(repoRoot, 'packages/collector/src/cli/outpost-collector.ts');
const AGENT_BIN = join(repoRoot, 'packages/agent-core/src/cli/outpost-agent.ts');
const AGENTCTL_BIN = join(repoRoot, 'packages/agent-core/src/cli/agentctl.ts');

export function tempDir(prefix: string): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), `outpost-${prefix}-`));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** Thrown by a check to stop waiting at once: the condition can no longer come true. */
export class GiveUp extends Error {}

/** Polls until `check` returns a value other than undefined; fails with what it last saw. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 200 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last error: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(name: string, argv: string[], env: NodeJS.ProcessEnv = {}) {
    this.name = name;
    this.child = spawn(process.execPath, argv, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.lines.push(line));
    }
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
  }

  /** The first JSON log line with this msg (pino's `msg`). */
  logLine(msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return waitFor(
      `${this.name} to log "${msg}"\n${this.tail()}`,
      () => {
        for (const line of this.lines) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === msg) return entry;
        }
        if (this.child.exitCode !== null) {
          throw new GiveUp(
            `${this.name} exited with ${this.child.exitCode} before logging "${msg}"\n${this.tail()}`,
          );
        }
        return undefined;
      },
      { timeoutMs },
    );
  }

  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }
}

export interface RunningCollector {
  proc: Proc;
  url: string;
  adminToken: string;
  enrollmentToken: string;
  api<T>(path: string): Promise<T>;
  /** An admin request with an optional JSON body: the status and the JSON answer, whatever the status. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: ApiAnswer }>;
}

export type ApiAnswer = Record<string, unknown> & { error?: { code: string; message: string } };

/** `extraArgs` go to `outpost-collector serve`, e.g. ['--config', file]. */
/** A collector that does not answer within this is hung: fail the test instead of keeping it alive. */
const API_TIMEOUT_MS = 30_000;

export async function startCollector(
  dataDir: string,
  listen = '127.0.0.1:0',
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningCollector> {
  const proc = new Proc(
    'collector',
    [COLLECTOR_BIN, 'serve', '--listen', listen, '--data-dir', dataDir, ...extraArgs],
    env,
  );
  // A collector that never says it listens is not the caller's to stop: it has no handle on it yet.
  const line = await proc.logLine('collector listening').catch(async (err: unknown) => {
    await proc.stop('SIGKILL');
    throw err;
  });
  const adminToken = readFileSync(String(line.adminTokenFile), 'utf8').trim();
  const enrollmentToken = readFileSync(String(line.enrollmentTokenFile), 'utf8').trim();
  const url = String(line.url);
  return {
    proc,
    url,
    adminToken,
    enrollmentToken,
    async api<T>(path: string): Promise<T> {
      const res = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${adminToken}` },
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as T;
    },
    async request(method: string, path: string, body?: unknown) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
      return { status: res.status, body: (await res.json()) as ApiAnswer };
    },
  };
}

export interface RunningAgent {
  proc: Proc;
  configPath: string;
  socket: string;
  stateDir: string;
}

export async function startAgent(
  dir: string,
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  /** The agent's entry: its source by default, or e.g. the built dist/cli/outpost-agent.js. */
  bin = AGENT_BIN,
): Promise<RunningAgent> {
  const configPath = join(dir, 'agent.yaml');
  writeFileSync(configPath, yaml);
  const proc = new Proc('agent', [bin, '--config', configPath], env);
  // An agent that never says it started is not the caller's to stop: it has no handle on it yet.
  const line = await proc.logLine('agent started').catch(async (err: unknown) => {
    await proc.stop('SIGKILL');
    throw err;
  });
  return { proc, configPath, socket: String(line.socket), stateDir: String(line.stateDir) };
}

export async function agentctl(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [AGENTCTL_BIN, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * `outpost-collector <args>` as an admin runs it: the collector URL and admin token come only from
 * `env` (or the flags), never from the environment of whoever runs the tests.
 */
export function outpostCollector(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.OUTPOST_ADMIN_TOKEN;
  delete base.OUTPOST_COLLECTOR_URL;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [COLLECTOR_BIN, ...args],
      { env: { ...base, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

export interface StoredRecord {
  agentId: string;
  seq: number;
  kind: string;
  ts: number;
  name: string;
  value: number;
  unit: string;
  attrs: Record<string, unknown>;
  source: string;
}

/** Every record of one kind the collector holds for one agent, following the paging cursor. */
export async function allRecords(
  collector: RunningCollector,
  agentId: string,
  route: 'metrics' | 'records' = 'records',
): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const page of recordPages(collector, agentId, route)) out.push(...page);
  return out;
}

/** An agent's stored records page by page, for runs too big to hold in memory at once. */
export async function* recordPages(
  collector: RunningCollector,
  agentId: string,
  route: 'metrics' | 'records' = 'records',
): AsyncGenerator<StoredRecord[]> {
  let after = '';
  for (;;) {
    const page = await collector.api<Record<string, StoredRecord[]> & { next: string | null; more: boolean }>(
      `/api/v1/${route}?agent=${agentId}&limit=10000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
    );
    yield page[route] ?? [];
    if (!page.more || !page.next) return;
    after = page.next;
  }
}

/** Asserts the stored seqs are exactly 1..lastSeq: none lost, none twice. */
export function seqReport(
  records: StoredRecord[],
  lastSeq: number,
): { missing: number[]; duplicated: number[] } {
  const seen = new Map<number, number>();
  for (const r of records) seen.set(r.seq, (seen.get(r.seq) ?? 0) + 1);
  const missing: number[] = [];
  for (let seq = 1; seq <= lastSeq; seq++) if (!seen.has(seq)) missing.push(seq);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq);
  return { missing, duplicated };
}

/** The stats of a stopped agent's queue file, read the way the agent itself would open it. */
export async function queueStatsOf(stateDir: string): Promise<QueueStats> {
  const queue = Queue.open({
    path: join(stateDir, 'queue.db'),
    maxBytes: 1 << 30,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: pino({ level: 'silent' }),
  });
  try {
    return queue.stats();
  } finally {
    await queue.close();
  }
}

/**
 * An agent config for tests. `inputs: false` turns the system and process inputs off, for tests
 * that count exactly the records they push themselves.
 */
export function agentYaml(options: {
  url: string;
  stateDir: string;
  inputs?: boolean;
  extra?: string;
}): string {
  const inputs =
    options.inputs === false
      ? `inputs:
  system:
    enabled: false
  processes:
    enabled: false
`
      : `inputs:
  system:
    interval: 500ms
  processes:
    interval: 500ms
`;
  return `collector:
  url: ${options.url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
agent:
  state_dir: ${options.stateDir}
  labels:
    test: e2e
${inputs}send:
  batch_max_wait: 200ms
  retry:
    initial_backoff: 100ms
    max_backoff: 500ms
heartbeat:
  interval: 1s
shutdown:
  grace_period: 10s
${options.extra ?? ''}`;
}

/**
 * An agent on agentYaml enrolled with `collector`, its state under <dir>/agent, killed when the
 * test ends.
 */
export async function startEnrolledAgent(
  t: TestContext,
  dir: string,
  collector: RunningCollector,
  options: { inputs?: boolean; extra?: string } = {},
): Promise<RunningAgent> {
  const agent = await startAgent(
    dir,
    agentYaml({ url: collector.url, stateDir: join(dir, 'agent'), ...options }),
    { OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken },
  );
  t.after(() => agent.proc.stop('SIGKILL'));
  return agent;
}

export interface Fleet {
  collector: RunningCollector;
  agent: RunningAgent;
  /** The agent's id, once it is registered and online. */
  agentId: string;
  /** Stops the collector (SIGTERM) and starts it again on the same data and config. */
  restartCollector(): Promise<RunningCollector>;
}

/**
 * The start of most collector feature tests: a collector with `collectorConfig` as its config file
 * and one agent enrolled to it and online, both killed when the test ends. The agent's system and
 * process inputs are off unless `inputs` is true, so it sends only what the test emits.
 */
export async function startFleet(
  t: TestContext,
  dir: string,
  options: { collectorConfig: string; inputs?: boolean },
): Promise<Fleet> {
  const configFile = join(dir, 'collector.yaml');
  writeFileSync(configFile, options.collectorConfig);
  const dataDir = join(dir, 'collector');
  const start = async () => {
    const collector = await startCollector(dataDir, '127.0.0.1:0', ['--config', configFile]);
    t.after(() => collector.proc.stop('SIGKILL'));
    return collector;
  };
  const collector = await start();
  const agent = await startEnrolledAgent(t, dir, collector, { inputs: options.inputs ?? false });
  const { id: agentId } = await waitFor('the agent to be online', async () => {
    const { agents } = await collector.api<{ agents: Array<{ id: string; state: string }> }>(
      '/api/v1/agents',
    );
    return agents.find((a) => a.state === 'online');
  });
  const fleet: Fleet = {
    collector,
    agent,
    agentId,
    async restartCollector() {
      await fleet.collector.proc.stop('SIGTERM');
      fleet.collector = await start();
      return fleet.collector;
    },
  };
  return fleet;
}

/** One metric pushed through `agentctl emit` on the agent's control socket. */
export async function emitMetric(agent: RunningAgent, name: string, value: number): Promise<void> {
  const out = await agentctl([
    'emit',
    '--kind',
    'metric',
    '--name',
    name,
    '--value',
    String(value),
    '--socket',
    agent.socket,
  ]);
  if (out.code !== 0) throw new Error(`agentctl emit ${name}=${value} exited ${out.code}: ${out.stderr}`);
}

export interface ReceivedRequest {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** An HTTP server on loopback that answers 200 to every POST and keeps what it got (webhooks, sinks). */
export async function startReceiver(port = 0): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    requests.push({ url: req.url ?? '', headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
