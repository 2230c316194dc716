import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PUSHED_RECORDS, parsePushedRecords } from './push.ts';

const refused = (body: unknown, message: RegExp) =>
  assert.throws(
    () => parsePushedRecords(body, 1000),
    (err: Error & { code?: string }) => err.code === 'E_BAD_REQUEST' && message.test(err.message),
  );

test('push: records are completed (ts now, source "push") and keep the source they carry', () => {
  const out = parsePushedRecords(
    {
      records: [
        { kind: 'metric', name: 'jobs', value: 3, unit: '{job}' },
        { kind: 'log', name: 'app', body: 'hi', ts: 5, attrs: { n: 1 }, source: 'script' },
      ],
    },
    1000,
  );
  assert.deepEqual(out, [
    { kind: 'metric', ts: 1000, name: 'jobs', value: 3, unit: '{job}', attrs: {}, source: 'push' },
    { kind: 'log', ts: 5, name: 'app', body: 'hi', attrs: { n: 1 }, source: 'script' },
  ]);
});

test('push: a bad body or record is refused naming the record index and field', () => {
  refused([], /^pushed records: \(body\): /);
  refused({ records: [] }, /^pushed records: records: /);
  refused({ records: [{ kind: 'event', name: 'a' }], extra: 1 }, /^pushed records: \(body\): .*extra/);
  refused(
    { records: Array.from({ length: MAX_PUSHED_RECORDS + 1 }, () => ({ kind: 'event', name: 'a' })) },
    /^pushed records: records: /,
  );
  refused(
    {
      records: [
        { kind: 'event', name: 'a' },
        { kind: 'metric', name: 'x' },
      ],
    },
    /^pushed records: records\.1\.value: a metric needs a value$/,
  );
  refused(
    { records: [{ kind: 'event', name: 'a', attrs: { host: { nested: 1 } } }] },
    /^pushed records: records\.0\.attrs\.host: must be a string, a finite number or a boolean$/,
  );
  refused({ records: [{ kind: 'event', name: 'a', colour: 'red' }] }, /records\.0\.colour: unknown field/);
  refused({ records: [{ kind: 'nope', name: 'a' }] }, /records\.0\.kind: must be "metric", "log", "event"/);
  refused({ records: [{ kind: 'event', name: '' }] }, /records\.0\.name: must not be empty/);
  refused(
    { records: [{ kind: 'alert', name: 'cpu', attrs: { state: 'firing' } }] },
    /records\.0\.attrs\.severity: must be "info", "warning" or "critical"/,
  );
  refused(
    { records: [{ kind: 'log', name: 'a', body: 'x'.repeat(64 * 1024 + 1) }] },
    /records\.0\.body: must be at most/,
  );
});

test('push: a parsed body is completed in place, and errors name the record index', () => {
  const body = JSON.parse(
    '{"records":[{"name":"a","kind":"event","ts":null},{"kind":"log","name":"b","body":"x"}]}',
  );
  const out = parsePushedRecords(body, 1000);
  assert.equal(out[0], body.records[0]);
  assert.equal(out[1], body.records[1]);
  assert.deepEqual(out, [
    { kind: 'event', ts: 1000, name: 'a', attrs: {}, source: 'push' },
    { kind: 'log', ts: 1000, name: 'b', body: 'x', attrs: {}, source: 'push' },
  ]);
  assert.throws(
    () =>
      parsePushedRecords(JSON.parse('{"records":[{"kind":"event","name":"a"},{"kind":"event","name":1}]}')),
    (err: Error & { details?: Record<string, unknown> }) => {
      assert.equal(err.message, 'pushed records: records.1.name: must be a string');
      assert.deepEqual(err.details, { path: 'records.1.name', index: 1 });
      return true;
    },
  );
});

test('push: a body of any other shape gets the schema error', () => {
  refused(undefined, /^pushed records: \(body\): /);
  refused(null, /^pushed records: \(body\): /);
  refused('records', /^pushed records: \(body\): /);
  refused({}, /^pushed records: records: /);
  refused({ records: 'x' }, /^pushed records: records: /);
  refused(
    JSON.parse('{"records":[{"kind":"event","name":"a"}],"__proto__":1}'),
    /^pushed records: \(body\): /,
  );
  refused(Object.assign(Object.create({ extra: 1 }), { records: [{ kind: 'event', name: 'a' }] }), /extra/);
});
