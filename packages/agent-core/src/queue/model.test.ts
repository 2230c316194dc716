import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutpostRecord, RecordKind } from '@outpost/plugin-sdk';
import fc from 'fast-check';
import { isOutpostError } from '../errors.ts';
import { FakeClock, ids, openQueue, rec, tempQueuePath } from './fixtures.ts';
import type { Batch, Queue, QueueOptions, QueueStats } from './index.ts';
import { verifyQueueFile } from './verify.ts';

// A small in-memory model of the queue, checked against the real one over random action
// sequences, as Vector tests its disk buffer. It restates the policy in the plainest terms: arrays
// in seq order, filtered and sliced.

interface ModelRecord {
  id: number;
  seq: number;
  dropClass: number;
  bytes: number;
  enqueuedAt: number;
  record: OutpostRecord;
}

interface ModelBatch {
  seq: number;
  records: ModelRecord[];
  attempts: number;
  createdAt: number;
}

interface Config {
  maxBytes: number;
  maxAgeMs: number | undefined;
  policy: 'drop_oldest' | 'block';
  /** How many records the queue stores per row: the model has no rows, so it must not matter. */
  chunkMaxRecords: number;
}

const DROP_CLASS: Record<RecordKind, number> = { log: 0, metric: 1, event: 1, alert: 2 };

class Model {
  readonly config: Config;
  pending: ModelRecord[] = [];
  batches: ModelBatch[] = [];
  leased = new Set<number>();
  lastSeq = 0;
  lastBatchSeq = 0;
  dropped = { queue_full: 0, max_age: 0, purged: 0 };
  /** Dead-lettered records with the batch they were in. */
  dead: Array<ModelRecord & { batchSeq: number }> = [];
  enqueued = 0;
  acked = 0;

  constructor(config: Config) {
    this.config = config;
  }

  stored(): ModelRecord[] {
    return [...this.batches.flatMap((b) => b.records), ...this.pending];
  }

  #expire(now: number): void {
    const { maxAgeMs } = this.config;
    if (maxAgeMs === undefined) return;
    const kept = this.pending.filter((r) => r.enqueuedAt >= now - maxAgeMs);
    this.dropped.max_age += this.pending.length - kept.length;
    this.pending = kept;
  }

  enqueue(
    now: number,
    incoming: Array<{ id: number; record: OutpostRecord; bytes: number }>,
  ): { accepted: number; dropped: number } | 'full' {
    if (incoming.length === 0) return { accepted: 0, dropped: 0 };
    this.#expire(now);
    const stored = this.stored();
    let over =
      stored.reduce((s, r) => s + r.bytes, 0) +
      incoming.reduce((s, r) => s + r.bytes, 0) -
      this.config.maxBytes;
    if (over > 0 && this.config.policy === 'block' && stored.length > 0) return 'full';
    const keep = incoming.map(() => true);
    let evicted = 0;
    if (over > 0 && this.config.policy === 'drop_oldest') {
      for (const dropClass of [0, 1]) {
        this.pending = this.pending.filter((r) => {
          if (over <= 0 || r.dropClass !== dropClass) return true;
          over -= r.bytes;
          evicted++;
          return false;
        });
        incoming.forEach((r, i) => {
          if (over > 0 && DROP_CLASS[r.record.kind] === dropClass) {
            over -= r.bytes;
            keep[i] = false;
          }
        });
      }
      this.dropped.queue_full += evicted + keep.filter((k) => !k).length;
    }
    let accepted = 0;
    incoming.forEach((r, i) => {
      if (!keep[i]) return;
      this.pending.push({
        id: r.id,
        seq: ++this.lastSeq,
        dropClass: DROP_CLASS[r.record.kind],
        bytes: r.bytes,
        enqueuedAt: now,
        record: r.record,
      });
      accepted++;
    });
    this.enqueued += accepted;
    return { accepted, dropped: evicted };
  }

  lease(now: number, limits: { maxRecords: number; maxBytes: number }): ModelBatch | null {
    this.#expire(now);
    let batch = this.batches.find((b) => !this.leased.has(b.seq)) ?? null;
    if (batch === null) {
      let bytes = 0;
      let count = 0;
      while (count < this.pending.length && count < limits.maxRecords) {
        const next = this.pending[count]!;
        if (count > 0 && bytes + next.bytes > limits.maxBytes) break;
        bytes += next.bytes;
        count++;
      }
      if (count === 0) return null;
      batch = {
        seq: ++this.lastBatchSeq,
        records: this.pending.slice(0, count),
        attempts: 0,
        createdAt: now,
      };
      this.pending = this.pending.slice(count);
      this.batches.push(batch);
    }
    this.leased.add(batch.seq);
    return batch;
  }

  remove(batchSeq: number): ModelBatch {
    const batch = this.batches.find((b) => b.seq === batchSeq)!;
    this.batches = this.batches.filter((b) => b !== batch);
    this.leased.delete(batchSeq);
    return batch;
  }

  stats(): Omit<QueueStats, 'corruptRecovered' | 'walLostFrames'> {
    const stored = this.stored();
    return {
      depth: stored.length,
      bytes: stored.reduce((s, r) => s + r.bytes, 0),
      batches: this.batches.length,
      leased: this.leased.size,
      oldestTs: stored[0]?.enqueuedAt ?? null,
      enqueued: this.enqueued,
      acked: this.acked,
      dropped: { ...this.dropped },
      deadLetter: this.dead.length,
      lastSeq: this.lastSeq,
    };
  }
}

function expectedBatch(batch: ModelBatch): Batch {
  return {
    seq: batch.seq,
    records: batch.records.map((r) => ({ seq: r.seq, ...r.record })),
    bytes: batch.records.reduce((s, r) => s + r.bytes, 0),
    createdAt: batch.createdAt,
    attempts: batch.attempts,
  };
}

type Action =
  | { type: 'enqueue'; items: Array<{ kind: RecordKind; size: number }> }
  | { type: 'lease'; maxRecords: number; maxBytes: number }
  | { type: 'ack' | 'release' | 'deadLetter'; pick: number }
  | { type: 'retryDead' | 'purgeDead'; pick: number }
  | { type: 'advance'; ms: number }
  | { type: 'reopen' };

const kindArb = fc.constantFrom<RecordKind>('log', 'metric', 'event', 'alert');
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('enqueue' as const),
      items: fc.array(fc.record({ kind: kindArb, size: fc.integer({ min: 200, max: 400 }) }), {
        maxLength: 6,
      }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('lease' as const),
      maxRecords: fc.integer({ min: 1, max: 5 }),
      maxBytes: fc.integer({ min: 100, max: 1500 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constantFrom('ack' as const, 'release' as const, 'deadLetter' as const),
      pick: fc.nat(10),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constantFrom('retryDead' as const, 'purgeDead' as const),
      pick: fc.nat(10),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('reopen' as const) }) },
);

const configArb: fc.Arbitrary<Config> = fc.record({
  maxBytes: fc.integer({ min: 500, max: 4000 }),
  maxAgeMs: fc.option(fc.constantFrom(1000, 5000), { nil: undefined }),
  policy: fc.constantFrom('drop_oldest' as const, 'block' as const),
  chunkMaxRecords: fc.constantFrom(1, 2, 3, 500),
});

async function run(config: Config, actions: Action[]): Promise<void> {
  const clock = new FakeClock();
  const file = tempQueuePath();
  const options: Partial<QueueOptions> = { ...config, now: clock.now };
  let queue: Queue = openQueue(file, options);
  const model = new Model(config);
  const accepted = new Set<number>();
  const acked: number[] = [];
  const purged: number[] = [];
  let nextId = 0;

  const pickLeased = (pick: number): number | undefined => {
    const leased = [...model.leased].sort((a, b) => a - b);
    return leased.length === 0 ? undefined : leased[pick % leased.length];
  };

  try {
    for (const action of actions) {
      switch (action.type) {
        case 'enqueue': {
          const incoming = action.items.map(({ kind, size }) => {
            const id = nextId++;
            const record = rec(kind, id, size);
            return { id, record, bytes: size };
          });
          const expected = model.enqueue(clock.t, incoming);
          if (expected === 'full') {
            assert.throws(
              () => queue.enqueue(incoming.map((r) => r.record)),
              (err) => isOutpostError(err, 'E_QUEUE_FULL'),
            );
          } else {
            assert.deepEqual(queue.enqueue(incoming.map((r) => r.record)), expected);
            for (const r of model.pending) if (incoming.some((i) => i.id === r.id)) accepted.add(r.id);
          }
          break;
        }
        case 'lease': {
          const limits = { maxRecords: action.maxRecords, maxBytes: action.maxBytes };
          const expected = model.lease(clock.t, limits);
          assert.deepEqual(queue.lease(limits), expected === null ? null : expectedBatch(expected));
          break;
        }
        case 'ack':
        case 'release':
        case 'deadLetter': {
          const seq = pickLeased(action.pick);
          if (seq === undefined) break;
          if (action.type === 'ack') {
            queue.ack(seq);
            const batch = model.remove(seq);
            model.acked += batch.records.length;
            acked.push(...batch.records.map((r) => r.id));
          } else if (action.type === 'release') {
            queue.release(seq);
            model.leased.delete(seq);
            model.batches.find((b) => b.seq === seq)!.attempts++;
          } else {
            queue.deadLetter(seq, { code: 'E_BAD_BODY', message: 'rejected by the model test', status: 400 });
            const batch = model.remove(seq);
            model.dead.push(...batch.records.map((r) => ({ ...r, batchSeq: seq })));
          }
          break;
        }
        case 'retryDead':
        case 'purgeDead': {
          // Odd picks act on every dead-lettered batch, even ones on one of them.
          const batchSeqs = [...new Set(model.dead.map((r) => r.batchSeq))];
          const batchSeq =
            action.pick % 2 === 1 ? undefined : batchSeqs[action.pick % (batchSeqs.length || 1)];
          const chosen = model.dead.filter((r) => batchSeq === undefined || r.batchSeq === batchSeq);
          model.dead = model.dead.filter((r) => !chosen.includes(r));
          if (action.type === 'retryDead') {
            assert.equal(queue.retryDeadLetter(batchSeq), chosen.length);
            // Back as new records: fresh seqs after every stored one, enqueued now.
            const again = [...chosen]
              .sort((a, b) => a.seq - b.seq)
              .map(({ batchSeq: _, ...r }) => ({ ...r, seq: ++model.lastSeq, enqueuedAt: clock.t }));
            model.pending = [...model.pending, ...again];
          } else {
            assert.equal(queue.purgeDeadLetter(batchSeq), chosen.length);
            model.dropped.purged += chosen.length;
            purged.push(...chosen.map((r) => r.id));
          }
          break;
        }
        case 'advance':
          clock.advance(action.ms);
          break;
        case 'reopen':
          await queue.close();
          queue = openQueue(file, options);
          model.leased.clear();
          model.enqueued = 0;
          model.acked = 0;
          break;
      }
      assert.deepEqual(
        queue.stats(),
        { ...model.stats(), corruptRecovered: false, walLostFrames: 0 },
        `after ${JSON.stringify(action)}`,
      );
    }

    // Drain what is left: every accepted record is now exactly once acked, dead-lettered,
    // dropped (and counted) or still stored. Reopening returns the leased batches too.
    await queue.close();
    queue = openQueue(file, options);
    const stored: number[] = [];
    for (let batch = queue.lease({ maxRecords: 1000, maxBytes: 1e9 }); batch !== null; ) {
      stored.push(...ids(batch.records));
      queue.ack(batch.seq);
      batch = queue.lease({ maxRecords: 1000, maxBytes: 1e9 });
    }
    const deadLettered = queue.deadLetters({ limit: 1e6, sample: 1e6 }).flatMap((b) => ids(b.sample));
    assert.deepEqual(
      deadLettered.sort((a, b) => a - b),
      model.dead.map((r) => r.id).sort((a, b) => a - b),
      'the dead-letter table holds what the model dead-lettered',
    );
    const all = [...acked, ...deadLettered, ...purged, ...stored];
    assert.equal(new Set(all).size, all.length, 'no record is delivered twice');
    for (const id of all) assert.ok(accepted.has(id), `record ${id} was accepted before it came out`);
    const { dropped } = queue.stats();
    // drop_oldest counts new records it drops on arrival; block hands refused ones back instead.
    const droppedOnArrival = config.policy === 'drop_oldest' ? nextId - accepted.size : 0;
    const droppedAfterAccept = accepted.size - all.length;
    assert.equal(droppedOnArrival + droppedAfterAccept, (dropped.queue_full ?? 0) + (dropped.max_age ?? 0));
    assert.equal(dropped.purged, purged.length);
    await queue.close();
    assert.deepEqual(verifyQueueFile(file).problems, [], 'agentctl queue verify finds the file sound');
  } finally {
    await queue.close();
  }
}

test('queue: random enqueue/lease/ack/release/deadLetter/retry/purge/reopen sequences match the model', async () => {
  await fc.assert(
    fc.asyncProperty(configArb, fc.array(actionArb, { maxLength: 60 }), (config, actions) =>
      run(config, actions),
    ),
    { numRuns: 300 },
  );
});
