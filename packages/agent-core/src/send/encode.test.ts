import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import { pino } from 'pino';
import { decompress } from 'zstd-napi';
import { Queue } from '../queue/index.ts';
import { encodeBatch, releaseBody } from './encode.ts';
import type { SourceBatch } from './source.ts';

const identity = { agentId: 'agt_3f9c', secret: 's3cret', hostname: 'web-1', labels: { env: 'prod' } };

function batch(): SourceBatch {
  return {
    seq: 17,
    createdAt: 1764061200000,
    bytes: 300,
    records: [
      {
        seq: 1042,
        kind: 'metric',
        ts: 1764061199000,
        name: 'system.cpu.utilization',
        value: 0.12,
        unit: '1',
        attrs: {},
        source: 'system',
      },
      {
        seq: 1043,
        kind: 'log',
        ts: 1764061199500,
        name: 'nginx',
        body: 'GET / 200',
        attrs: { file: '/var/log/x' },
        source: 'log',
      },
    ],
  };
}

const expected = {
  agent: { id: 'agt_3f9c', hostname: 'web-1', labels: { env: 'prod' } },
  batch: { seq: 17, createdAt: 1764061200000 },
  records: [
    {
      seq: 1042,
      kind: 'metric',
      ts: 1764061199000,
      name: 'system.cpu.utilization',
      value: 0.12,
      unit: '1',
      attrs: {},
      source: 'system',
    },
    {
      seq: 1043,
      kind: 'log',
      ts: 1764061199500,
      name: 'nginx',
      body: 'GET / 200',
      attrs: { file: '/var/log/x' },
      source: 'log',
    },
  ],
};

test('encode: zstd body decodes back to the protocol document', () => {
  const encoded = encodeBatch(batch(), identity, { compression: 'zstd' });
  assert.equal(encoded.contentEncoding, 'zstd');
  assert.equal(encoded.idempotencyKey, 'agt_3f9c-17');
  const plain = decompress(encoded.body);
  assert.equal(encoded.rawBytes, plain.length);
  assert.deepEqual(JSON.parse(plain.toString('utf8')), expected);
  assert.ok(
    !JSON.stringify(JSON.parse(plain.toString('utf8'))).includes('s3cret'),
    'the secret stays in the header',
  );
});

test('encode: none sends the JSON as is', () => {
  const encoded = encodeBatch(batch(), identity, { compression: 'none' });
  assert.equal(encoded.contentEncoding, 'identity');
  assert.equal(encoded.rawBytes, encoded.body.length);
  assert.deepEqual(JSON.parse(encoded.body.toString('utf8')), expected);
});

test('encode: fields the queue keeps beside a record stay off the wire, and a retry encodes the same bytes', () => {
  const b = batch();
  const withExtras = {
    ...b,
    records: b.records.map((r, i) => ({ internalBytes: 99, leaseId: i, ...r })),
  };
  const a = encodeBatch(withExtras, identity, { compression: 'none' });
  assert.deepEqual(JSON.parse(a.body.toString('utf8')), expected);
  assert.deepEqual(encodeBatch(b, identity, { compression: 'none' }).body, a.body);
  assert.deepEqual(
    decompress(encodeBatch(b, identity, { compression: 'zstd' }).body),
    decompress(encodeBatch(b, identity, { compression: 'zstd' }).body),
  );
});

test('encode: a batch leased from the queue splices its stored JSON to the same bytes as serialising it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-encode-'));
  const queue = Queue.open({
    path: join(dir, 'queue.db'),
    maxBytes: 1e6,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: pino({ level: 'silent' }),
  });
  try {
    const records = batch().records.map(({ seq: _, ...r }) => r) as OutpostRecord[];
    queue.enqueue([...records, { ...records[1]!, attrs: { 'quote"d': 'ünï\n', n: -0.5, ok: false } }]);
    const leased = queue.lease({ maxRecords: 10, maxBytes: 1e6 })!;
    assert.equal(leased.stored?.seqs.length, 3);
    const spliced = encodeBatch(leased, identity, { compression: 'none' }).body;
    const serialised = encodeBatch(
      { seq: leased.seq, createdAt: leased.createdAt, bytes: leased.bytes, records: leased.records },
      identity,
      { compression: 'none' },
    ).body;
    assert.equal(spliced.toString('utf8'), serialised.toString('utf8'));
  } finally {
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode: large spliced batches with multi-byte text encode exactly, and one body never changes another', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-encode-'));
  const queue = Queue.open({
    path: join(dir, 'queue.db'),
    maxBytes: 1e9,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: pino({ level: 'silent' }),
  });
  try {
    // Past the encoder's first buffer (256 KiB), in 3- and 4-byte UTF-8 and a lone surrogate.
    const records = (mark: string): OutpostRecord[] =>
      Array.from({ length: 3000 }, (_, i) => ({
        kind: 'log',
        ts: 1764061199000 + i,
        name: 'app',
        body: `${mark} ${i} €€ 🚀 \ud800 ünï "q" \\ ${'x'.repeat(100 + (i % 50))}`,
        attrs: { i },
        source: 'log',
      }));
    queue.enqueue(records('first'));
    queue.enqueue(records('second'));
    const leases = [1, 2].map(() => queue.lease({ maxRecords: 3000, maxBytes: 1e9 })!);
    const serialised = leases.map(
      (b) =>
        encodeBatch({ seq: b.seq, createdAt: b.createdAt, bytes: b.bytes, records: b.records }, identity, {
          compression: 'none',
        }).body,
    );
    const first = encodeBatch(leases[0]!, identity, { compression: 'none' }).body;
    const firstCopy = Buffer.from(first);
    const secondZstd = encodeBatch(leases[1]!, identity, { compression: 'zstd' });
    const second = encodeBatch(leases[1]!, identity, { compression: 'none' }).body;
    assert.ok(first.length > 512 * 1024, `a batch of ${first.length} bytes`);
    assert.equal(first.toString('utf8'), serialised[0]!.toString('utf8'));
    assert.equal(second.toString('utf8'), serialised[1]!.toString('utf8'));
    assert.deepEqual(decompress(secondZstd.body), second);
    assert.equal(secondZstd.rawBytes, second.length);
    assert.deepEqual(first, firstCopy, 'encoding the next batch left the first body as it was');
  } finally {
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode: releaseBody frees a sent body at once and leaves a small pooled buffer alone', () => {
  const many = batch();
  many.records = Array.from({ length: 100 }, (_, i) => ({ ...many.records[1]!, seq: i + 1 }));
  const big = encodeBatch(many, identity, { compression: 'none' });
  const pooled = { ...big, body: Buffer.from('{"records":[]}') };
  const neighbour = Buffer.from('shares the pool');
  assert.ok(big.body.length > 0);
  releaseBody(big);
  assert.equal(big.body.length, 0);
  releaseBody(pooled);
  assert.equal(pooled.body.toString(), '{"records":[]}');
  assert.equal(neighbour.toString(), 'shares the pool');
});
