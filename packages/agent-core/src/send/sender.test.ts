import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Logger, pino } from 'pino';
import { isOutpostError } from '../errors.ts';
import { Queue } from '../queue/index.ts';
import { accepted, ScriptedCollector, type Step } from './scripted-collector.ts';
import { Sender, type SenderOptions } from './sender.ts';
import type { BatchSource } from './source.ts';
import { HttpTransport } from './transport.ts';

const silent = pino({ level: 'silent' });
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempQueuePath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-send-'));
  dirs.push(dir);
  return path.join(dir, 'queue.db');
}

function openQueue(file: string): Queue {
  return Queue.open({
    path: file,
    maxBytes: 10_000_000,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: silent,
  });
}

function capturingLogger(): {
  logger: Logger;
  lines: Array<{ level: number; msg: string } & Record<string, unknown>>;
} {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function metrics(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'metric' as const,
    ts: 1_764_061_199_000 + from + i,
    name: 'system.cpu.utilization',
    value: (from + i) / 100,
    unit: '1',
    attrs: { cpu: from + i },
    source: 'system',
  }));
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | false;
  while (Date.now() < deadline) {
    last = probe();
    if (last !== undefined && last !== false) return last;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

interface Body {
  agent: { id: string; hostname: string; labels: Record<string, string> };
  batch: { seq: number; createdAt: number };
  records: Array<{ seq: number; name: string; attrs: Record<string, unknown> }>;
}

const identity = { agentId: 'agt_test', secret: 'first-secret', hostname: 'web-1', labels: { env: 'test' } };

function makeSender(queue: BatchSource, url: string, overrides: Partial<SenderOptions> = {}): Sender {
  return new Sender({
    source: queue,
    transport: new HttpTransport({ url }),
    identity: () => identity,
    onUnauthorized: async () => {},
    batchMaxRecords: 100,
    batchMaxBytes: 1_000_000,
    batchMaxWaitMs: 20,
    compression: 'zstd',
    retry: { initialBackoffMs: 10, maxBackoffMs: 40, maxRetryAfterMs: 30 },
    requestTimeoutMs: 5000,
    logger: silent,
    ...overrides,
  });
}

async function setup(script: (n: number, json: unknown) => Step | Promise<Step>) {
  const collector = await ScriptedCollector.start(script);
  const file = tempQueuePath();
  const queue = openQueue(file);
  return { collector, file, queue };
}

test('sender: destroyed socket, 503 Retry-After, 429, then 200 resend one batch under one key', async () => {
  const script: Step[] = [
    'destroy',
    {
      status: 503,
      body: { error: { code: 'E_NOT_READY', message: 'starting' } },
      headers: { 'retry-after': '1' },
    },
    { status: 429, body: { error: { code: 'E_RATE_LIMITED', message: 'slow down' } } },
  ];
  const { collector, queue } = await setup((n, json) => script[n - 1] ?? accepted(json));
  const sender = makeSender(queue, collector.url);
  try {
    queue.enqueue(metrics(5));
    sender.start();
    await waitFor('the batch to be acknowledged', () => queue.stats().depth === 0);
    assert.equal(collector.seen.length, 4);
    const keys = collector.seen.map((r) => r.headers['idempotency-key']);
    const batchSeq = (collector.seen[0]!.json as Body).batch.seq;
    assert.deepEqual(keys, Array(4).fill(`agt_test-${batchSeq}`));
    for (const r of collector.seen) {
      assert.equal(r.headers['content-encoding'], 'zstd');
      assert.deepEqual(r.json, collector.seen[0]!.json, 'every retry carries the same body');
    }
    const body = collector.seen[3]!.json as Body;
    assert.deepEqual(body.agent, { id: 'agt_test', hostname: 'web-1', labels: { env: 'test' } });
    assert.deepEqual(
      body.records.map((r) => r.attrs.cpu),
      [0, 1, 2, 3, 4],
    );
    const stats = sender.stats();
    assert.equal(stats.batchesSent, 1);
    assert.equal(stats.recordsSent, 5);
    assert.equal(stats.retries, 3);
    assert.equal(stats.batchesFailed, 3);
    assert.equal(stats.consecutiveFailures, 0);
    assert.equal(stats.nextRetryAt, null);
    assert.ok(stats.lastSendAt !== null);
    assert.ok(stats.bytesSent > 0 && stats.bytesRaw === collector.seen[3]!.rawBytes);
    assert.equal(stats.lastError?.status, 429);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: a 400 dead-letters the batch, logs an error, and the next batch still goes', async () => {
  const { collector, queue } = await setup((n, json) =>
    n === 1
      ? { status: 400, body: { error: { code: 'E_BAD_BODY', message: 'records[0].ts: expected number' } } }
      : accepted(json),
  );
  const { logger, lines } = capturingLogger();
  const sender = makeSender(queue, collector.url, { logger, batchMaxRecords: 3 });
  try {
    queue.enqueue(metrics(3));
    sender.start();
    await waitFor('the refused batch to leave the queue', () => queue.stats().deadLetter === 3);
    queue.enqueue(metrics(2, 3));
    await waitFor('the next batch', () => queue.stats().depth === 0 && sender.stats().batchesSent === 1);
    assert.equal(collector.seen.length, 2);
    const stats = sender.stats();
    assert.equal(stats.deadLettered, 1);
    assert.equal(stats.recordsSent, 2);
    assert.deepEqual(
      { status: stats.lastError?.status, code: stats.lastError?.code },
      { status: 400, code: 'E_BAD_BODY' },
    );
    const error = lines.find((l) => l.level === 50);
    assert.ok(error?.msg.includes('E_BAD_BODY') && error.msg.includes('dead-letter'), JSON.stringify(error));
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: a 401 renews credentials, then the same batch goes with the new secret', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  let current = { ...identity, secret: 'stale' };
  let renewals = 0;
  const collector401 = await ScriptedCollector.start((_n, json) => {
    return collector401.seen.at(-1)?.headers.authorization === 'Bearer agt_test.fresh'
      ? accepted(json)
      : { status: 401, body: { error: { code: 'E_UNAUTHORIZED', message: 'unknown agent' } } };
  });
  const sender = makeSender(queue, collector401.url, {
    identity: () => current,
    onUnauthorized: async () => {
      renewals += 1;
      current = { ...identity, secret: 'fresh' };
    },
  });
  try {
    queue.enqueue(metrics(4));
    sender.start();
    await waitFor('the batch to be acknowledged', () => queue.stats().depth === 0);
    assert.equal(renewals, 1);
    assert.deepEqual(
      collector401.seen.map((r) => r.headers.authorization),
      ['Bearer agt_test.stale', 'Bearer agt_test.fresh'],
    );
    assert.equal(
      collector401.seen[0]!.headers['idempotency-key'],
      collector401.seen[1]!.headers['idempotency-key'],
    );
    assert.equal(queue.stats().deadLetter, 0, 'a 401 never dead-letters');
  } finally {
    await sender.close();
    await queue.close();
    await collector401.close();
    await collector.close();
  }
});

test('sender: with no identity yet it asks for one before sending', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  let current: typeof identity | null = null;
  const sender = makeSender(queue, collector.url, {
    identity: () => current,
    onUnauthorized: async () => {
      current = identity;
    },
  });
  try {
    queue.enqueue(metrics(2));
    sender.start();
    await waitFor('the batch to be acknowledged', () => queue.stats().depth === 0);
    assert.equal(collector.seen[0]!.headers.authorization, 'Bearer agt_test.first-secret');
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: close() during a stalled request releases the batch; the reopened queue leases the same one', async () => {
  const { collector, file, queue } = await setup(() => 'stall');
  const sender = makeSender(queue, collector.url, { requestTimeoutMs: 60_000 });
  let sentSeq: number;
  try {
    queue.enqueue(metrics(6));
    sender.start();
    await waitFor('the request to reach the collector', () => collector.seen.length === 1);
    sentSeq = (collector.seen[0]!.json as Body).batch.seq;
    assert.equal(queue.stats().leased, 1);
    const closing = sender.close({ graceMs: 30 });
    assert.equal(sender.close({ graceMs: 30 }), closing, 'close() twice returns the same promise');
    await closing;
    assert.deepEqual({ depth: queue.stats().depth, leased: queue.stats().leased }, { depth: 6, leased: 0 });
    assert.equal(sender.stats().batchesSent, 0);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }

  const reopened = openQueue(file);
  const restarted = await ScriptedCollector.start((_n, json) => accepted(json));
  const next = makeSender(reopened, restarted.url);
  try {
    const batch = reopened.lease({ maxRecords: 100, maxBytes: 1_000_000 });
    assert.equal(batch?.seq, sentSeq);
    assert.deepEqual(
      batch?.records.map((r) => r.seq),
      (collector.seen[0]!.json as Body).records.map((r) => r.seq),
    );
    reopened.release(sentSeq);
    next.start();
    await waitFor('the resent batch to be acknowledged', () => reopened.stats().depth === 0);
    assert.equal(
      restarted.seen[0]!.headers['idempotency-key'],
      collector.seen[0]!.headers['idempotency-key'],
    );
    assert.deepEqual(restarted.seen[0]!.json, collector.seen[0]!.json, 'the same body after a restart');
  } finally {
    await next.close();
    await reopened.close();
    await restarted.close();
  }
});

test('sender: flush sends everything now, in order, ignoring batchMaxWait', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  const sender = makeSender(queue, collector.url, {
    batchMaxRecords: 10,
    batchMaxWaitMs: 3_600_000,
    compression: 'none',
  });
  try {
    queue.enqueue(metrics(35));
    const result = await sender.flush({ deadlineMs: Date.now() + 10_000 });
    assert.deepEqual(result, { sent: 35, remaining: 0 });
    const bodies = collector.seen.map((r) => r.json as Body);
    assert.deepEqual(
      bodies.map((b) => b.records.length),
      [10, 10, 10, 5],
    );
    const recordSeqs = bodies.flatMap((b) => b.records.map((r) => r.seq));
    assert.deepEqual(
      recordSeqs,
      [...recordSeqs].sort((a, b) => a - b),
    );
    assert.equal(new Set(recordSeqs).size, 35);
    const batchSeqs = bodies.map((b) => b.batch.seq);
    assert.deepEqual(
      batchSeqs,
      [...batchSeqs].sort((a, b) => a - b),
    );
    assert.equal(
      collector.seen[0]!.headers['content-encoding'],
      undefined,
      "compression 'none' sends identity",
    );
    assert.equal(collector.connections, 1, 'every batch rides one keep-alive connection');
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: a full batch goes at once and a lone record goes after batchMaxWait', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  const sender = makeSender(queue, collector.url, { batchMaxRecords: 5, batchMaxWaitMs: 3_600_000 });
  const waitSender = makeSender(queue, collector.url, { batchMaxRecords: 5, batchMaxWaitMs: 20 });
  try {
    sender.start();
    queue.enqueue(metrics(5));
    await waitFor('the full batch', () => queue.stats().depth === 0);
    queue.enqueue(metrics(1, 5));
    await sender.close();
    assert.equal(queue.stats().depth, 1, 'one record waits for batchMaxWait (an hour here)');
    waitSender.start();
    await waitFor('the lone record after 20 ms', () => queue.stats().depth === 0);
    assert.deepEqual(
      collector.seen.map((r) => (r.json as Body).records.length),
      [5, 1],
    );
  } finally {
    await sender.close();
    await waitSender.close();
    await queue.close();
    await collector.close();
  }
});

test("sender: the collector's minimum send interval holds later batches back", async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  const sender = makeSender(queue, collector.url, { batchMaxRecords: 10 });
  try {
    sender.setMinSendInterval(3_600_000);
    queue.enqueue(metrics(20));
    const paced = await sender.flush({ deadlineMs: Date.now() + 1000 });
    assert.deepEqual(paced, { sent: 10, remaining: 10 });
    sender.setMinSendInterval(null);
    assert.deepEqual(await sender.flush({ deadlineMs: Date.now() + 5000 }), { sent: 10, remaining: 0 });
    assert.equal(collector.seen.length, 2);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: after close, methods refuse with E_SENDER_CLOSED and stats still answer', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  const sender = makeSender(queue, collector.url);
  sender.start();
  await sender.close();
  assert.throws(
    () => sender.start(),
    (err) => isOutpostError(err, 'E_SENDER_CLOSED'),
  );
  assert.throws(
    () => sender.setMinSendInterval(10),
    (err) => isOutpostError(err, 'E_SENDER_CLOSED'),
  );
  await assert.rejects(sender.flush({ deadlineMs: Date.now() }), (err) =>
    isOutpostError(err, 'E_SENDER_CLOSED'),
  );
  assert.equal(sender.stats().batchesSent, 0);
  assert.equal(queue.listenerCount('enqueued'), 0, 'close() stops listening to the queue');
  await queue.close();
  await collector.close();
});

test('sender: impossible options are refused with E_SEND_CONFIG', async () => {
  const queue = openQueue(tempQueuePath());
  try {
    for (const bad of [
      { batchMaxRecords: 0 },
      { batchMaxBytes: -1 },
      { requestTimeoutMs: 0 },
      { batchMaxWaitMs: Number.NaN },
    ]) {
      assert.throws(
        () => makeSender(queue, 'http://127.0.0.1:9', bad),
        (err) => isOutpostError(err, 'E_SEND_CONFIG'),
        JSON.stringify(bad),
      );
    }
  } finally {
    await queue.close();
  }
});

test('sender: an idle sender neither polls the queue nor keeps the process alive', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  let statsCalls = 0;
  const counting: BatchSource = {
    lease: (limits) => queue.lease(limits),
    ack: (seq) => queue.ack(seq),
    release: (seq) => queue.release(seq),
    deadLetter: (seq, reason) => queue.deadLetter(seq, reason),
    stats: () => {
      statsCalls += 1;
      return queue.stats();
    },
    on: (event, listener) => queue.on(event, listener),
    off: (event, listener) => queue.off(event, listener),
  };
  const sender = makeSender(counting, collector.url, { batchMaxWaitMs: 3_600_000 });
  try {
    sender.start();
    queue.enqueue(metrics(1));
    await waitFor('the loop to settle', () => statsCalls >= 2);
    const settled = statsCalls;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(statsCalls, settled, 'no stats() calls while nothing happens');
    queue.enqueue(metrics(1, 1));
    await waitFor('a wake-up on enqueue', () => statsCalls > settled);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }

  // A child process with a started sender, a pending record and nothing else must exit by itself.
  const dir = path.dirname(tempQueuePath());
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = path.join(dir, 'idle.ts');
  fs.writeFileSync(
    script,
    `import { pino } from ${JSON.stringify(import.meta.resolve('pino'))};
import { Queue } from ${JSON.stringify(path.join(here, '../queue/index.ts'))};
import { HttpTransport, Sender } from ${JSON.stringify(path.join(here, 'index.ts'))};
const logger = pino({ level: 'silent' });
const queue = Queue.open({ path: ${JSON.stringify(path.join(dir, 'idle.db'))}, maxBytes: 1e6, policy: 'drop_oldest', durability: 'normal', logger });
const sender = new Sender({ source: queue, transport: new HttpTransport({ url: 'http://127.0.0.1:9' }),
  identity: () => null, onUnauthorized: async () => { throw new Error('no collector'); },
  batchMaxRecords: 100, batchMaxBytes: 1e6, batchMaxWaitMs: 3_600_000, compression: 'zstd',
  retry: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 }, requestTimeoutMs: 1000, logger });
sender.start();
queue.enqueue([{ kind: 'log', ts: 1, name: 'x', body: 'y', attrs: {}, source: 'log' }]);
`,
  );
  const child = spawn(process.execPath, [script], {
    cwd: path.join(here, '..', '..'),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the idle sender kept the process alive for 10 s'));
    }, 10_000);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  assert.equal(code, 0, stderr);
});

test('sender: with maxInFlight 3 three batches are posted at once and acks may come back in any order', async () => {
  let release: () => void = () => {};
  const allArrived = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { collector, queue } = await setup(async (n, json) => {
    if (n === 3) release();
    // The first three wait until all three are at the collector; they are then answered last first.
    if (n <= 3) {
      await allArrived;
      await new Promise((resolve) => setTimeout(resolve, (3 - n) * 20));
    }
    return n === 2
      ? { status: 503, body: { error: { code: 'E_NOT_READY', message: 'busy' } } }
      : accepted(json);
  });
  const transport = new HttpTransport({ url: collector.url, connections: 3 });
  const sender = makeSender(queue, collector.url, { batchMaxRecords: 3, maxInFlight: 3, transport });
  try {
    queue.enqueue(metrics(9));
    sender.start();
    await waitFor('every batch acknowledged', () => queue.stats().depth === 0 && queue.stats().batches === 0);
    assert.equal(collector.connections, 3, 'one connection per batch in flight');
    const keys = collector.seen.map((r) => r.headers['idempotency-key']);
    assert.equal(new Set(keys.slice(0, 3)).size, 3, 'three different batches were in flight together');
    assert.deepEqual(keys.slice(3), [keys[1]], 'only the refused batch went again, under its own key');
    assert.deepEqual(collector.seen[3]!.json, collector.seen[1]!.json, 'with the same body');
    const cpus = collector.seen
      .filter((r) => r.n !== 2)
      .flatMap((r) => (r.json as Body).records.map((x) => x.attrs.cpu as number));
    assert.deepEqual(
      cpus.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
      'every record acknowledged exactly once',
    );
    const stats = sender.stats();
    assert.equal(stats.batchesSent, 3);
    assert.equal(stats.recordsSent, 9);
    assert.equal(stats.retries, 1);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: close() with several batches in flight releases each of them', async () => {
  const { collector, file, queue } = await setup(() => 'stall');
  const transport = new HttpTransport({ url: collector.url, connections: 2 });
  const sender = makeSender(queue, collector.url, { batchMaxRecords: 2, maxInFlight: 2, transport });
  queue.enqueue(metrics(5));
  sender.start();
  await waitFor('two requests at the collector', () => collector.seen.length === 2);
  await sender.close();
  assert.equal(queue.stats().leased, 0, 'no lease outlives the sender');
  await queue.close();
  await collector.close();
  const reopened = openQueue(file);
  assert.equal(reopened.stats().depth, 5);
  await reopened.close();
});

test('sender: a 409 for a reused batch seq dead-letters it with the cause and the way out', async () => {
  const { collector, queue } = await setup((n, json) =>
    n === 1
      ? {
          status: 409,
          body: {
            error: {
              code: 'E_IDEMPOTENCY_CONFLICT',
              message: 'Idempotency-Key "agt_test-1" was already used with a different body',
            },
          },
        }
      : accepted(json),
  );
  const { logger, lines } = capturingLogger();
  const sender = makeSender(queue, collector.url, { logger });
  try {
    queue.enqueue(metrics(2));
    sender.start();
    await waitFor('the conflicting batch in the dead-letter table', () => queue.stats().deadLetter === 2);
    const [dead] = queue.deadLetters();
    assert.equal(dead?.status, 409);
    assert.equal(dead?.code, 'E_IDEMPOTENCY_CONFLICT');
    assert.match(dead!.message, /already stored a different batch under Idempotency-Key agt_test-\d+/);
    assert.match(dead!.message, /agentctl queue dead-letter retry \d+/);
    assert.ok(lines.some((l) => l.level === 50 && /used twice by this agent/.test(l.msg)));

    assert.equal(queue.retryDeadLetter(dead!.batchSeq), 2);
    await waitFor('the retried records acknowledged', () => queue.stats().depth === 0);
    const retried = collector.seen[1]!;
    assert.notEqual(retried.headers['idempotency-key'], collector.seen[0]!.headers['idempotency-key']);
    assert.equal(sender.stats().recordsSent, 2);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: a batch that cannot be encoded is dead-lettered, the batches after it still go', async () => {
  const { collector, queue } = await setup((_n, json) => accepted(json));
  // A source whose first batch holds a value JSON cannot write; the real queue stores only JSON.
  const deadLetters: Array<{ seq: number; code: string; message: string }> = [];
  let leases = 0;
  const source: BatchSource = {
    lease: () => {
      leases += 1;
      if (leases > 2) return null;
      const record = { ...metrics(1)[0]!, seq: leases, attrs: { n: leases === 1 ? (1n as never) : 1 } };
      return { seq: leases, records: [record], bytes: 100, createdAt: 1 };
    },
    ack: () => {},
    release: () => {},
    deadLetter: (seq, reason) => deadLetters.push({ seq, ...reason }),
    stats: () => ({ depth: leases >= 2 ? 0 : 1, bytes: 100, batches: 0, leased: 0, oldestTs: 1 }),
    on: () => {},
    off: () => {},
  };
  const sender = makeSender(source, collector.url);
  try {
    await sender.flush({ deadlineMs: Date.now() + 5000 });
    assert.equal(deadLetters.length, 1);
    assert.equal(deadLetters[0]!.seq, 1);
    assert.equal(deadLetters[0]!.code, 'E_SEND_ENCODE');
    assert.match(deadLetters[0]!.message, /batch 1 cannot be encoded: .*BigInt/);
    assert.equal(collector.seen.length, 1);
    assert.equal((collector.seen[0]!.json as Body).batch.seq, 2);
    assert.equal(sender.stats().deadLettered, 1);
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});

test('sender: each leased batch frees its stored payloads once encoded; a retry leases and reads them again', async () => {
  const { collector, queue } = await setup((n, json) =>
    n === 1 ? { status: 503, body: { error: { code: 'E_NOT_READY', message: 'starting' } } } : accepted(json),
  );
  const leased: Array<NonNullable<ReturnType<Queue['lease']>>> = [];
  const source: BatchSource = {
    lease: (limits) => {
      const batch = queue.lease(limits);
      if (batch !== null) leased.push(batch);
      return batch;
    },
    ack: (seq) => queue.ack(seq),
    release: (seq) => queue.release(seq),
    deadLetter: (seq, reason) => queue.deadLetter(seq, reason),
    stats: () => queue.stats(),
    on: (event, listener) => queue.on(event, listener),
    off: (event, listener) => queue.off(event, listener),
  };
  const sender = makeSender(source, collector.url, { batchMaxRecords: 100 });
  try {
    queue.enqueue(metrics(250));
    const result = await sender.flush({ deadlineMs: Date.now() + 10_000 });
    assert.deepEqual(result, { sent: 250, remaining: 0 });
    assert.equal(leased.length, 4, 'three batches, the first leased twice');
    assert.equal(leased[0]!.seq, leased[1]!.seq);
    for (const batch of leased) {
      assert.ok(batch.stored !== undefined);
      assert.ok(
        batch.stored.payloads.every((payload) => payload.length === 0),
        `batch ${batch.seq}'s payloads are freed`,
      );
    }
    const stored = collector.seen
      .slice(1)
      .flatMap((r) => (r.json as Body).records.map((rec) => rec.attrs.cpu));
    assert.deepEqual(
      stored,
      Array.from({ length: 250 }, (_, i) => i),
    );
  } finally {
    await sender.close();
    await queue.close();
    await collector.close();
  }
});
