import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  normalizeRecord,
  type PluginOutput,
  parseJsonPieces,
  RECORD_LIMITS,
  RECORDS_PER_PIECE,
  readPluginOutput,
  toJsonPieces,
} from './index.ts';

const output = (
  returned: string | string[],
  emitted: string | string[] = '[]',
  method: PluginOutput['method'] = 'collect',
): PluginOutput => ({
  plugin: 'p',
  method,
  returned: typeof returned === 'string' ? [returned] : returned,
  emitted: typeof emitted === 'string' ? [emitted] : emitted,
  now: 1000,
  maxRecords: 2,
});
const refused = (out: PluginOutput, message: RegExp) =>
  assert.throws(
    () => readPluginOutput(out),
    (err: Error & { code?: string }) => err.code === 'E_PLUGIN_OUTPUT' && message.test(err.message),
  );

test('records: readPluginOutput completes returned then emitted records', () => {
  const records = readPluginOutput(
    output('[{"kind":"metric","name":"a","value":1}]', '[{"kind":"log","name":"b","body":"x","ts":5}]'),
  );
  assert.deepEqual(records, [
    { kind: 'metric', ts: 1000, name: 'a', value: 1, attrs: {}, source: 'plugin:p' },
    { kind: 'log', ts: 5, name: 'b', body: 'x', attrs: {}, source: 'plugin:p' },
  ]);
});

test('records: readPluginOutput refuses text that is not a call output, naming the plugin', () => {
  refused(output('['), /^plugin "p": collect\(\) output refused: not JSON/);
  refused(output('null', '{}'), /not a call output/);
  refused(
    { ...output('null'), emitted: [1] as unknown as string[] },
    /not a call output \(returned and emitted as JSON pieces\)/,
  );
  refused({ ...output('null'), returned: '[]' as unknown as string[] }, /not a call output/);
  refused(output(['[]', '{}']), /a value in several pieces must be arrays/);
  refused(output('null', '[]', 'process'), /process\(\) must return an array/);
  refused(output('{}', '[]', 'rule'), /rule\(\) must return an array of records or nothing/);
  refused(
    output('[{"kind":"metric","name":"a","value":1}]', '[{},{}]'),
    /3 records, more than 2 \(limits.maxRecordsPerCall\)/,
  );
  refused(
    output('[]', '[{"kind":"metric","name":"a","value":1,"attrs":{"k":null}}]'),
    /emitted\[0\]\.attrs\.k: must be a string, a finite number or a boolean/,
  );
});

test('records: an action only yields what it emitted; a rule only alerts', () => {
  assert.deepEqual(readPluginOutput(output('{"any":"thing"}', '[]', 'action')), []);
  refused(
    output('[{"kind":"event","name":"e"}]', '[]', 'rule'),
    /returned\[0\]\.kind: must be "alert" \(rule output\)/,
  );
});

test('records: a list in pieces comes back whole, in order, and a field is named by its place in the list', () => {
  const records = Array.from({ length: RECORDS_PER_PIECE * 2 + 5 }, (_, i) => ({
    kind: 'event',
    name: `e${i}`,
    attrs: {},
    source: 'test',
    ts: i,
  }));
  const pieces = toJsonPieces(records);
  assert.equal(pieces.length, 3);
  assert.ok(pieces.every((piece) => piece.startsWith('[')));
  assert.deepEqual(parseJsonPieces(pieces), records);
  assert.deepEqual(toJsonPieces([]), ['[]']);
  assert.deepEqual(toJsonPieces({ kind: 'alert' }), ['{"kind":"alert"}']);
  const bad = records.map((r, i) => (i === RECORDS_PER_PIECE + 1 ? { ...r, ts: -1 } : r));
  refused(
    { ...output(toJsonPieces(bad), '[]', 'process'), maxRecords: 1000 },
    new RegExp(`returned\\[${RECORDS_PER_PIECE + 1}\\]\\.ts: must be unix time`),
  );
});

test('records: normalizeRecord refuses unknown fields and too many attrs, inherited keys included', () => {
  const options = { now: 1, source: 'src' };
  const problem = (value: unknown, message: RegExp) =>
    assert.throws(
      () => normalizeRecord(value, 'r', options),
      (err: Error) => err.name === 'RecordProblem' && message.test(err.message),
    );
  problem({ kind: 'event', name: 'e', extra: 1 }, /^r\.extra: unknown field$/);
  problem(Object.create({ extra: 1, kind: 'event', name: 'e' }), /^r\.extra: unknown field$/);
  const attrs = Object.fromEntries(Array.from({ length: RECORD_LIMITS.attrs + 1 }, (_, i) => [`k${i}`, i]));
  problem(
    { kind: 'event', name: 'e', attrs },
    new RegExp(`^r\\.attrs: must have at most ${RECORD_LIMITS.attrs} keys$`),
  );
  problem({ kind: 'event', name: 'e', attrs: Object.create({ k: null }) }, /^r\.attrs\.k: must be a string/);
  const inherited = normalizeRecord(
    { kind: 'event', name: 'e', attrs: Object.create({ k: 'v' }) },
    'r',
    options,
  );
  assert.deepEqual(inherited, { kind: 'event', ts: 1, name: 'e', attrs: { k: 'v' }, source: 'src' });
  assert.equal(Object.getPrototypeOf(inherited.attrs), Object.prototype);
});
