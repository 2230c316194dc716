import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, defaultConfig, parseConfig } from '../config/index.ts';

const FILE = '/etc/outpost/agent.yaml';

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, { path: FILE, env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.issues.map((i) => `${i.line}:${i.column} ${i.key}: ${i.message}`);
  }
  assert.fail('expected the config to be rejected');
}

test('config: processors default to an empty chain and keep their order, names and units', () => {
  assert.deepEqual(defaultConfig({}).processors, []);
  const { config } = parseConfig(
    [
      'processors:',
      '  - type: parse',
      '    format: json',
      '    timestamp: { field: time }',
      '  - type: aggregate',
      '    name: per-status',
      '    window: 30s',
      '    functions: [count, p95]',
      '    group_by: status',
      '  - type: filter',
      '    drop: { level: debug }',
    ].join('\n'),
    { path: FILE, env: {} },
  );
  assert.deepEqual(config.processors, [
    { type: 'parse', name: 'parse#0', format: 'json', timestamp: { field: 'time', format: 'iso8601' } },
    {
      type: 'aggregate',
      name: 'per-status',
      window: 30_000,
      functions: ['count', 'p95'],
      group_by: ['status'],
      keep_input: false,
    },
    { type: 'filter', name: 'filter#2', drop: [{ level: 'debug' }] },
  ]);
});

test('config: bad stages are reported with the key path, the line and what is wrong', () => {
  const issues = issuesOf(
    [
      'processors:',
      '  - type: fitler',
      '    drop: { level: debug }',
      '  - type: parse',
      '    format: regex',
      "    pattern: '(?<status>\\d{3}'",
      '  - type: filter',
      "    keep: { body: '[unclosed' }",
      '  - type: aggregate',
      '    window: 10',
      '    functoins: [count]',
      '  - type: sample',
      '    rate: 10',
      '    fraction: 0.5',
      '  - type: parse',
      '    format: regex',
      "    pattern: '\\d+'",
    ].join('\n'),
  );
  assert.deepEqual(issues, [
    '2:11 processors[0].type: unknown processor type "fitler"; expected one of parse, filter, transform, aggregate, sample, rate_limit, plugin',
    '6:14 processors[1].pattern: invalid regular expression: unterminated group',
    '8:19 processors[2].keep.body: invalid regular expression: unterminated character class',
    '10:13 processors[3].window: expected a duration like "60s", got 10 (add a unit: ms, s, m, h or d)',
    '11:5 processors[3].functoins: unknown key (did you mean "functions"?)',
    '12:5 processors[4]: give exactly one of rate (keep 1 in N, e.g. rate: 10) or fraction (e.g. fraction: 0.1)',
    '17:14 processors[5].pattern: the pattern has no named groups; name each field, e.g. (?<status>\\d{3})',
  ]);
});

test('config: stage names are unique and leave "input" and "output" to tap', () => {
  const issues = issuesOf(
    [
      'processors:',
      '  - type: sample',
      '    rate: 2',
      '  - type: sample',
      '    name: sample#0',
      '    fraction: 0.5',
      '  - type: transform',
      '    name: output',
      "    remove: [password, 'user.email']",
      '  - type: filter',
      '    keep: { kind: [log, trace] }',
    ].join('\n'),
  );
  assert.deepEqual(issues, [
    '11:11 processors[3].keep: kind[1]: expected one of metric, log, event, alert, got "trace"',
  ]);
  assert.deepEqual(
    issuesOf(
      [
        'processors:',
        '  - type: sample',
        '    rate: 2',
        '  - type: sample',
        '    name: sample#0',
        '    fraction: 0.5',
        '  - type: transform',
        '    name: output',
        '    remove: password',
      ].join('\n'),
    ),
    [
      '5:11 processors[1].name: name "sample#0" is already used by processors[0]; names must be unique',
      '8:11 processors[2].name: "output" is reserved for tap; pick another name',
    ],
  );
});
