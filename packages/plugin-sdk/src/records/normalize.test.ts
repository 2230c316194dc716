import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeRecords, RecordProblem } from './index.ts';

const options = { now: 1000, source: 'push', keepSource: true };

test('records: inPlace completes the parsed records themselves, with the checks of a copy', () => {
  const parsed = JSON.parse(
    '[{"name":"a","kind":"event","ts":null,"attrs":{"n":1,"ok":true}},{"kind":"metric","name":"m","value":2,"source":"s"}]',
  ) as Array<Record<string, unknown>>;
  const attrs = parsed[0]!.attrs;
  const out = normalizeRecords(parsed, 'records', { ...options, inPlace: true });
  assert.equal(out[0], parsed[0]);
  assert.equal(out[1], parsed[1]);
  assert.equal(out[0]!.attrs, attrs);
  const copied = normalizeRecords(JSON.parse(JSON.stringify(parsed)), 'records', options);
  assert.deepEqual(out, copied);
  assert.deepEqual(out, [
    { kind: 'event', ts: 1000, name: 'a', attrs: { n: 1, ok: true }, source: 'push' },
    { kind: 'metric', ts: 1000, name: 'm', value: 2, attrs: {}, source: 's' },
  ]);
  // Without keepSource every record takes the given source, in place as in a copy.
  const [own] = normalizeRecords([{ kind: 'log', name: 'l', source: 'x' }], 'r', {
    now: 5,
    source: 'plugin:p',
    inPlace: true,
  });
  assert.deepEqual(own, { kind: 'log', name: 'l', source: 'plugin:p', ts: 5, attrs: {} });
});

test('records: inPlace refuses what a copy refuses, naming the same field', () => {
  const bad: Array<[unknown, string]> = [
    [{ kind: 'event', name: 'a', attrs: { host: { nested: 1 } } }, 'attrs.host'],
    [{ kind: 'event', name: 'a', attrs: { x: 'y'.repeat(4097) } }, 'attrs.x'],
    [{ kind: 'event', name: 'a', attrs: null }, 'attrs'],
    [{ kind: 'event', name: 'a', unit: null }, 'unit'],
    [{ kind: 'event', name: 'a', source: null }, 'source'],
    [{ kind: 'metric', name: 'a' }, 'value'],
    [{ kind: 'event', name: 'a', colour: 'red' }, 'colour'],
  ];
  for (const [record, field] of bad) {
    for (const inPlace of [false, true]) {
      const values = [{ kind: 'event', name: 'ok' }, structuredClone(record)];
      assert.throws(
        () => normalizeRecords(values, 'records', { ...options, inPlace }),
        (err: RecordProblem) => {
          assert.ok(err instanceof RecordProblem);
          assert.equal(err.path, `records[1].${field}`);
          assert.equal(err.index, 1);
          return true;
        },
      );
    }
  }
});

test('records: a dotted list names records as root.index', () => {
  assert.throws(
    () =>
      normalizeRecords([{ kind: 'event', name: 'a' }, { kind: 'nope' }], 'records', {
        ...options,
        dottedPaths: true,
      }),
    (err: RecordProblem) => err.path === 'records.1.kind' && err.index === 1,
  );
  assert.throws(
    () => normalizeRecords([{ kind: 'event', name: 'a' }, 7], 'records', { ...options, dottedPaths: true }),
    (err: RecordProblem) => err.message === 'records.1: must be a record object' && err.index === 1,
  );
});
