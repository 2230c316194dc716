import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import { parseDataRequest } from './data-request.ts';
import { dataRequestSchema, parseRequest } from './schemas.ts';

const schema = dataRequestSchema(100);

function body(records: unknown[], extra: Record<string, unknown> = {}) {
  return {
    agent: { id: 'agt_1', hostname: 'web-1', labels: { env: 'prod' }, extra: 1 },
    batch: { seq: 7, createdAt: 1_764_000_000_000, note: 'dropped' },
    records,
    ...extra,
  };
}

const good = [
  { seq: 1, kind: 'metric', ts: 1, name: 'm', value: 0.5, unit: '1', attrs: { cpu: 0 }, source: 'system' },
  {
    source: 'log',
    attrs: { file: '/x', ok: true, n: -1.5 },
    body: 'GET /',
    name: 'nginx',
    ts: 2,
    kind: 'log',
    seq: 2,
  },
  {
    seq: 3,
    kind: 'event',
    ts: 3,
    name: 'e',
    value: null,
    unit: null,
    body: null,
    source: 'plugin:x',
    more: 'x',
  },
  { seq: 4, kind: 'alert', ts: 4.5, name: 'a', attrs: {}, source: 's' },
];

test('ingest: the plain parse of a well-formed batch outputs what the schema does, key order included', () => {
  for (const value of [body(good), body([]), { agent: { id: 'a' }, batch: { seq: 0 }, records: good }]) {
    const plain = parseDataRequest(value, 100);
    const zod = parseRequest(schema, value);
    // The Idempotency-Key content hash is taken over this JSON.
    assert.equal(JSON.stringify(plain), JSON.stringify(zod));
    assert.deepEqual(JSON.parse(JSON.stringify(plain)), JSON.parse(JSON.stringify(zod)));
  }
});

test('ingest: anything the plain parse does not accept gets the schema error naming the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [body([{ ...good[0], ts: 'soon' }]), /^records\[0\]\.ts: expected number, received string$/],
    [body([{ ...good[0], value: undefined }]), /^records\[0\]\.value: required when kind is "metric"$/],
    [
      body([good[1], { ...good[1], attrs: { bad: null } }]),
      /^records\[1\]\.attrs\.bad: expected string, number or boolean$/,
    ],
    [body([{ ...good[1], seq: -1 }]), /^records\[0\]\.seq/],
    [body([{ ...good[1], kind: 'trace' }]), /^records\[0\]\.kind/],
    [body([{ ...good[1], name: '' }]), /^records\[0\]\.name/],
    [body(Array(101).fill(good[1])), /^records: must have at most 100 records/],
    [{ batch: { seq: 1 }, records: [] }, /^agent: required$/],
    [body([], { batch: { seq: 1.5 } }), /^batch\.seq/],
    [[], /^body: expected object, received array$/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => parseDataRequest(value, 100),
      (err) => isOutpostError(err, 'E_BAD_BODY') && message.test(err.message),
      String(message),
    );
  }
});
