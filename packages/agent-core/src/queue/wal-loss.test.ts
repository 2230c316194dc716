import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { capturingLogger, FakeClock, ids, openQueue, rec, tempQueuePath } from './fixtures.ts';
import { verifyQueueFile } from './index.ts';

const big = { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 };
const QUEUE = fileURLToPath(new URL('./index.ts', import.meta.url));

interface ChildReport {
  checkpointedBatch: number;
  checkpointedIds: number[];
  lostBatch: number;
  lastSeq: number;
}

/**
 * A real process fills the queue, closes it once (so part of it is checkpointed into the main file),
 * then commits more: records, a formed batch and the ack of the first batch, which stay in the WAL
 * until it is SIGKILLed.
 */
async function crashWithWal(file: string): Promise<ChildReport> {
  const script = `
    import pino from 'pino';
    import { Queue } from ${JSON.stringify(QUEUE)};
    const rec = (id) => ({ kind: 'log', ts: 1000 + id, name: 'app', body: 'line ' + id, attrs: { id }, source: 'log' });
    const options = { path: ${JSON.stringify(file)}, maxBytes: 1e9, policy: 'drop_oldest', durability: 'normal', logger: pino({ level: 'silent' }) };
    let q = Queue.open(options);
    q.enqueue(Array.from({ length: 200 }, (_, i) => rec(i)));
    const first = q.lease({ maxRecords: 100, maxBytes: 1e9 });
    await q.close();
    q = Queue.open(options);
    q.enqueue(Array.from({ length: 300 }, (_, i) => rec(1000 + i)));
    q.ack(first.seq);
    const second = q.lease({ maxRecords: 100, maxBytes: 1e9 });
    const lost = q.lease({ maxRecords: 100, maxBytes: 1e9 });
    process.stdout.write(JSON.stringify({
      checkpointedBatch: first.seq,
      checkpointedIds: first.records.map((r) => r.attrs.id),
      lostBatch: Math.max(second.seq, lost.seq),
      lastSeq: q.stats().lastSeq,
    }) + '\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`the child exited (${code}) before reporting`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return JSON.parse(line) as ChildReport;
}

test('queue: a deleted WAL after kill -9 is detected and logged; seqs never repeat one the lost WAL held', async () => {
  const file = tempQueuePath();
  const before = await crashWithWal(file);
  assert.ok(fs.existsSync(`${file}-wal`) && fs.existsSync(`${file}-shm`), 'the crash left the WAL behind');
  fs.rmSync(`${file}-wal`);

  const { logger, lines } = capturingLogger();
  const q = openQueue(file, { logger });
  const stats = q.stats();
  assert.ok(stats.walLostFrames > 0, 'the lost frames are counted');
  assert.equal(stats.corruptRecovered, false, 'the checkpointed file itself is sound');
  const warning = lines.find((l) => l.level === 40 && l.walLostFrames === stats.walLostFrames);
  assert.ok(warning, 'a warning names the loss');
  assert.match(String(warning.msg), /WAL .* is missing or cut short: \d+ committed frames are lost/);

  // What was checkpointed survives: the first batch, whose ack was lost with the WAL, is sent again
  // under its own seq (the collector answers that from its idempotency store).
  assert.equal(stats.depth, 200);
  const resent = q.lease({ maxRecords: 100, maxBytes: 1e9 })!;
  assert.equal(resent.seq, before.checkpointedBatch);
  assert.deepEqual(ids(resent.records), before.checkpointedIds);

  // Everything new numbers above what the lost WAL may have sent.
  q.enqueue([rec('metric', 1)]);
  const rest = q.lease(big)!;
  assert.ok(rest.seq > before.lostBatch, `batch seq ${rest.seq} > ${before.lostBatch}`);
  const newest = rest.records.find((r) => r.attrs.id === 1)!;
  assert.ok(newest.seq > before.lastSeq, `record seq ${newest.seq} > ${before.lastSeq}`);
  await q.close();

  const report = verifyQueueFile(file);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
});

test('queue: a clean restart continues seqs without a gap; a crash skips to the reserved ceiling', async () => {
  const file = tempQueuePath();
  let q = openQueue(file);
  q.enqueue([rec('metric', 1)]);
  const first = q.lease(big)!;
  q.ack(first.seq);
  await q.close();
  q = openQueue(file);
  q.enqueue([rec('metric', 2)]);
  const second = q.lease(big)!;
  assert.equal(second.seq, first.seq + 1);
  assert.equal(second.records[0]!.seq, first.records[0]!.seq + 1);
  await q.close();

  const crashed = tempQueuePath();
  const before = await crashWithWal(crashed);
  q = openQueue(crashed);
  assert.equal(q.stats().walLostFrames, 0, 'nothing lost: the WAL is still there');
  q.enqueue([rec('metric', 3)]);
  const after = q.stats().lastSeq;
  assert.ok(after > before.lastSeq + 1, `a crash leaves a gap (${before.lastSeq} -> ${after})`);
  await q.close();
});

test('queue: an unreadable seq ceiling starts seqs above the clock, with a warning', async () => {
  const file = tempQueuePath();
  const clock = new FakeClock();
  let q = openQueue(file);
  q.enqueue([rec('metric', 1)]);
  await q.close();
  fs.writeFileSync(`${file}.seq-ceiling`, 'not json');
  const { logger, lines } = capturingLogger();
  q = openQueue(file, { logger, now: clock.now });
  assert.ok(lines.some((l) => l.level === 40 && /seq ceiling .* is unreadable/.test(String(l.msg))));
  q.enqueue([rec('metric', 2)]);
  assert.ok(q.stats().lastSeq > clock.t * 1000);
  await q.close();
  assert.match(fs.readFileSync(`${file}.seq-ceiling`, 'utf8'), /"version":1/);
});
