import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { CompressStream, compress } from 'zstd-napi';
import { isOutpostError } from '../errors.ts';
import { decodeBody, zstdDecompress } from './index.ts';
import { dataRequestSchema, parseRequest } from './schemas.ts';

const limits = { maxDecompressedBytes: 1024 * 1024 };

/** Streams `total` zero bytes through zstd without ever holding them in memory. */
async function zstdOfZeros(total: number): Promise<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from(
      (function* () {
        for (let sent = 0; sent < total; sent += zeros.length) yield zeros;
      })(),
    ),
    new CompressStream(),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) chunks.push(chunk);
    },
  );
  return Buffer.concat(chunks);
}

function expectCode(fn: () => unknown, code: string, message?: RegExp) {
  assert.throws(fn, (err) => {
    assert.ok(isOutpostError(err, code), `expected ${code}, got ${String(err)}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('ingest: identity and zstd bodies decode to the same JSON', () => {
  const json = Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] }));
  const plain = decodeBody(json, undefined, limits);
  const identity = decodeBody(json, 'identity', limits);
  const zstd = decodeBody(compress(json), 'ZSTD', limits);
  assert.deepEqual(plain.value, { hello: 'world', n: [1, 2, 3] });
  assert.deepEqual(zstd.value, plain.value);
  assert.deepEqual(identity.value, plain.value);
});

test('ingest: a zstd bomb stops at the limit instead of inflating', async () => {
  const bomb = await zstdOfZeros(200 * 1024 * 1024);
  assert.ok(bomb.length < 100_000, `bomb is ${bomb.length} bytes compressed`);
  const before = process.memoryUsage().arrayBuffers;
  expectCode(
    () => zstdDecompress(bomb, limits.maxDecompressedBytes),
    'E_DECOMPRESSED_TOO_LARGE',
    /1048576 bytes/,
  );
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(
    grown < 32 * 1024 * 1024,
    `decompression kept ${grown} bytes; it should stop near the 1 MiB limit`,
  );
});

test('ingest: a frame that declares a huge size is refused without trusting the header', () => {
  const declared = compress(Buffer.alloc(4 * 1024 * 1024));
  expectCode(() => decodeBody(declared, 'zstd', limits), 'E_DECOMPRESSED_TOO_LARGE');
});

test('ingest: garbage, truncated and empty zstd bodies are 400-class errors', () => {
  const frame = compress(Buffer.from(JSON.stringify({ a: 'b'.repeat(1000) })));
  expectCode(
    () => decodeBody(Buffer.from('this is not zstd at all'), 'zstd', limits),
    'E_BAD_COMPRESSED_BODY',
  );
  expectCode(
    () => decodeBody(frame.subarray(0, frame.length - 5), 'zstd', limits),
    'E_BAD_COMPRESSED_BODY',
    /truncated/,
  );
  // Bodies share one decompression context: the truncated frame must not run into the next body.
  assert.deepEqual(decodeBody(frame, 'zstd', limits).value, { a: 'b'.repeat(1000) });
  expectCode(() => decodeBody(Buffer.alloc(0), 'zstd', limits), 'E_BAD_COMPRESSED_BODY', /empty/);
  expectCode(
    () => decodeBody(Buffer.concat([frame, Buffer.from('trailing junk')]), 'zstd', limits),
    'E_BAD_COMPRESSED_BODY',
  );
});

test('ingest: other encodings and bad JSON are refused with their codes', () => {
  expectCode(() => decodeBody(Buffer.from('{}'), 'gzip', limits), 'E_UNSUPPORTED_ENCODING', /"gzip"/);
  expectCode(() => decodeBody(Buffer.from('{"a":'), undefined, limits), 'E_BAD_BODY', /not valid JSON/);
  expectCode(() => decodeBody(Buffer.alloc(0), undefined, limits), 'E_BAD_BODY', /empty body/);
  expectCode(
    () => decodeBody(Buffer.from('{"__proto__":{"x":1}}'), undefined, limits),
    'E_BAD_BODY',
    /__proto__/,
  );
});

test('ingest: validation errors name the field path', () => {
  const schema = dataRequestSchema(3);
  const record = { seq: 1, kind: 'metric', ts: 1, name: 'm', value: 1, attrs: {}, source: 'system' };
  const body: { agent: object; batch: object; records: Record<string, unknown>[] } = {
    agent: { id: 'agt_1' },
    batch: { seq: 1 },
    records: [record, record, record, { ...record, ts: 'soon' }],
  };
  expectCode(() => parseRequest(schema, body), 'E_BAD_BODY', /^records: must have at most 3 records/);
  body.records = [record, record, { ...record, ts: 'soon' }];
  expectCode(
    () => parseRequest(schema, body),
    'E_BAD_BODY',
    /^records\[2\]\.ts: expected number, received string$/,
  );
  body.records = [record, { ...record, attrs: { ok: true, bad: null } as never }];
  expectCode(
    () => parseRequest(schema, body),
    'E_BAD_BODY',
    /^records\[1\]\.attrs\.bad: expected string, number or boolean$/,
  );
  body.records = [{ ...record, value: undefined }];
  expectCode(
    () => parseRequest(schema, body),
    'E_BAD_BODY',
    /^records\[0\]\.value: required when kind is "metric"$/,
  );
  body.records = [{ ...record, kind: 'trace' }];
  expectCode(
    () => parseRequest(schema, body),
    'E_BAD_BODY',
    /^records\[0\]\.kind: expected one of "metric", "log"/,
  );
  expectCode(() => parseRequest(schema, []), 'E_BAD_BODY', /^body: expected object, received array$/);
  expectCode(
    () => parseRequest(schema, { batch: { seq: 1 }, records: [] }),
    'E_BAD_BODY',
    /^agent: required$/,
  );
});
