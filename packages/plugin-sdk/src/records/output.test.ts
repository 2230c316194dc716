import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PluginOutput, readPluginOutput } from './index.ts';

const output = (json: string, method: PluginOutput['method'] = 'collect'): PluginOutput => ({
  plugin: 'p',
  method,
  json,
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
    output(
      '{"returned":[{"kind":"metric","name":"a","value":1}],"emitted":[{"kind":"log","name":"b","body":"x","ts":5}]}',
    ),
  );
  assert.deepEqual(records, [
    { kind: 'metric', ts: 1000, name: 'a', value: 1, attrs: {}, source: 'plugin:p' },
    { kind: 'log', ts: 5, name: 'b', body: 'x', attrs: {}, source: 'plugin:p' },
  ]);
});

test('records: readPluginOutput refuses text that is not a call output, naming the plugin', () => {
  refused(output('{"returned":['), /^plugin "p": collect\(\) output refused: not JSON/);
  refused(output('[1]'), /not a call output/);
  refused(output('{"returned":null,"emitted":{}}'), /not a call output/);
  refused(output('{"returned":null,"emitted":[]}', 'process'), /process\(\) must return an array/);
  refused(
    output('{"returned":{},"emitted":[]}', 'rule'),
    /rule\(\) must return an array of records or nothing/,
  );
  refused(
    output('{"returned":[{"kind":"metric","name":"a","value":1}],"emitted":[{},{}]}'),
    /3 records, more than 2 \(limits.maxRecordsPerCall\)/,
  );
  refused(
    output('{"returned":[],"emitted":[{"kind":"metric","name":"a","value":1,"attrs":{"k":null}}]}'),
    /emitted\[0\]\.attrs\.k: must be a string, a finite number or a boolean/,
  );
});

test('records: an action only yields what it emitted; a rule only alerts', () => {
  assert.deepEqual(readPluginOutput(output('{"returned":{"any":"thing"},"emitted":[]}', 'action')), []);
  refused(
    output('{"returned":[{"kind":"event","name":"e"}],"emitted":[]}', 'rule'),
    /returned\[0\]\.kind: must be "alert" \(rule output\)/,
  );
});
