/**
 * The crash harness: a producer pushes numbered records into a real agent (agentctl emit's route,
 * answered only after the commit) while the agent, the collector or both are kill -9'd at random
 * points and a flaky proxy between them resets, stalls and answers 500/429/503. At the end every
 * record the agent accepted must be stored at the collector exactly once.
 */
import { join } from 'node:path';
import { ControlClient } from '../../packages/agent-core/src/index.ts';
import { CrashLedger, type LedgerTally } from './crash-ledger.ts';
import { CHAOS, type Fault, FlakyProxy } from './flaky-proxy.ts';
import {
  type RunningAgent,
  type RunningCollector,
  recordPages,
  startAgent,
  startCollector,
} from './harness.ts';

export interface CrashReport extends LedgerTally {
  seed: number;
  cycles: number;
  kills: { agent: number; collector: number; both: number };
  /** Counted by the agent's queue as dropped by policy (0 with the queue sized here). */
  dropped: number;
  faults: Record<Fault, number>;
  /** Records the agent held when the producer stopped, and how fast it delivered them. */
  backlog: number;
  drainMs: number;
  drainPerSecond: number;
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The queue must hold a long run's whole backlog (about 2 MB a cycle): at 512 MiB a 300-cycle run
// dropped records by policy (queue_full), which the report would count as lost.
function harnessYaml(url: string, stateDir: string, maxInFlight: number): string {
  return `collector:
  url: ${url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
  request_timeout: 1500ms
agent:
  state_dir: ${stateDir}
inputs:
  system:
    enabled: false
  processes:
    enabled: false
queue:
  max_bytes: 4GiB
send:
  max_in_flight: ${maxInFlight}
  batch_max_records: 500
  batch_max_wait: 50ms
  retry:
    initial_backoff: 50ms
    max_backoff: 400ms
    max_retry_after: 1s
heartbeat:
  interval: 1s
shutdown:
  grace_period: 2s
`;
}

const REFUSED = new Set(['ECONNREFUSED', 'ENOENT']);

/**
 * How long the backlog may stay the same size before the drain counts as stuck. The sender's
 * request timeout (1.5 s) and capped backoff (≤ 1 s) mean a working agent delivers something well
 * within it, however big the backlog; a fixed total would fail a long run for its size alone.
 */
const DRAIN_STALL_MS = 30_000;
const DRAIN_LOG_EVERY_MS = 5_000;

interface QueueView {
  depth: number;
  leased: number;
  batches: number;
  dropped: Record<string, number>;
  deadLetter: number;
}

/** Waits until the agent's queue is empty, failing only when it stops shrinking. */
async function drainAgent(
  client: ControlClient,
  log: ((line: string) => void) | undefined,
): Promise<{ last: { stats: QueueView }; backlog: number; ms: number; perSecond: number }> {
  const started = Date.now();
  let backlog: number | null = null;
  let lowest = Number.POSITIVE_INFINITY;
  let movedAt = started;
  let loggedAt = started;
  let seen: unknown;
  let failure: string | null = null;
  for (;;) {
    const now = Date.now();
    try {
      const queue = await client.get<{ stats: QueueView }>('/v1/queue');
      const { sender } = await client.get<{ sender: unknown }>('/v1/status');
      seen = { queue: queue.stats, sender };
      failure = null;
      backlog ??= queue.stats.depth;
      const ms = now - started;
      if (queue.stats.depth === 0) {
        const perSecond = ms > 0 ? Math.round((backlog * 1000) / ms) : backlog;
        log?.(`drain: ${backlog} records delivered in ${ms} ms (${perSecond}/s)`);
        return { last: queue, backlog, ms, perSecond };
      }
      if (queue.stats.depth < lowest) {
        lowest = queue.stats.depth;
        movedAt = now;
      }
      if (now - loggedAt >= DRAIN_LOG_EVERY_MS) {
        loggedAt = now;
        log?.(`drain: ${queue.stats.depth} of ${backlog} left after ${ms} ms; ${JSON.stringify(seen)}`);
      }
    } catch (err) {
      failure = (err as Error).message;
    }
    if (now - movedAt > DRAIN_STALL_MS) {
      const done = backlog === null || lowest === Number.POSITIVE_INFINITY ? 0 : backlog - lowest;
      throw new Error(
        `the agent delivered nothing for ${DRAIN_STALL_MS} ms (${done} of ${backlog} records delivered in ` +
          `${now - started} ms): a stall, not a backlog; last seen: ${JSON.stringify(seen)}` +
          (failure === null ? '' : `; the last look failed: ${failure}`),
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runCrashCycles(options: {
  dir: string;
  cycles: number;
  seed?: number;
  /** Records per push. */
  pushSize?: number;
  /** Pause between two pushes: 0 pushes as fast as the agent answers. */
  pushPauseMs?: number;
  /** send.max_in_flight of the agent (its default, 4, when not given). */
  maxInFlight?: number;
  log?: (line: string) => void;
}): Promise<CrashReport> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const pushSize = options.pushSize ?? 25;
  const collectorDir = join(options.dir, 'collector');
  const stateDir = join(options.dir, 'agent');

  let collector: RunningCollector = await startCollector(collectorDir);
  const listen = new URL(collector.url).host;
  const proxy = await FlakyProxy.start(collector.url, random);
  const env = { OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken };
  const yaml = harnessYaml(proxy.url, stateDir, options.maxInFlight ?? 4);
  let agent: RunningAgent = await startAgent(options.dir, yaml, env);
  let client = new ControlClient(agent.socket, { timeoutMs: 5000 });

  const ledger = new CrashLedger();
  const pushPauseMs = options.pushPauseMs ?? 0;
  let next = 1;
  let producing = true;
  const kills = { agent: 0, collector: 0, both: 0 };

  const push = async (): Promise<void> => {
    const first = next;
    next += pushSize;
    const numbers = Array.from({ length: pushSize }, (_, i) => first + i);
    const records = numbers.map((n) => ({ kind: 'event', name: 'crash.test', attrs: { n } }));
    try {
      await client.post('/v1/records', { records });
      ledger.markAccepted(numbers);
    } catch (err) {
      // An answer other than 200 (the agent still starting, say) or no connection at all means
      // the records were not taken; only a request cut off midway leaves it open.
      if ((err as { code?: string }).code === 'E_CONTROL_REQUEST') return;
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? '';
      if (REFUSED.has(code)) return;
      ledger.markUncertain(numbers);
      // The agent may be gone: give the cycle a moment instead of spinning on a dead socket.
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  let agentUp = true;
  const producer = (async () => {
    while (producing) {
      if (agentUp) await push();
      else await new Promise((r) => setTimeout(r, 10));
      if (pushPauseMs > 0) await new Promise((r) => setTimeout(r, pushPauseMs));
    }
  })();

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      proxy.mix = random() < 0.7 ? CHAOS : {};
      await sleep(100 + random() * 500);
      const roll = random();
      const victim = roll < 0.4 ? 'agent' : roll < 0.8 ? 'collector' : 'both';
      kills[victim]++;
      if (victim !== 'collector') {
        await agent.proc.stop('SIGKILL');
        agentUp = false;
        await client.close();
      }
      if (victim !== 'agent') await collector.proc.stop('SIGKILL');
      await sleep(random() * 300);
      if (victim !== 'agent') collector = await startCollector(collectorDir, listen);
      if (victim !== 'collector') {
        agent = await startAgent(options.dir, yaml, env);
        client = new ControlClient(agent.socket, { timeoutMs: 5000 });
        agentUp = true;
      }
      options.log?.(
        `cycle ${cycle}/${options.cycles}: killed ${victim}; ${ledger.accepted} accepted, ${ledger.uncertain} uncertain`,
      );
    }
    producing = false;
    await producer;
    proxy.mix = {};

    const drained = await drainAgent(client, options.log);
    const status = drained.last;
    const agentStatus = await client.get<{ collector: { agentId: string } }>('/v1/status');
    for await (const page of recordPages(collector, agentStatus.collector.agentId)) {
      for (const r of page) ledger.markStored(r.attrs.n);
    }
    return {
      seed,
      cycles: options.cycles,
      kills,
      ...ledger.tally(),
      dropped: Object.values(status.stats.dropped).reduce((a, b) => a + b, 0) + status.stats.deadLetter,
      faults: { ...proxy.counts },
      backlog: drained.backlog,
      drainMs: drained.ms,
      drainPerSecond: drained.perSecond,
    };
  } finally {
    producing = false;
    await producer.catch(() => undefined);
    await client.close().catch(() => undefined);
    await agent.proc.stop('SIGKILL');
    await collector.proc.stop('SIGKILL');
    await proxy.close();
  }
}
