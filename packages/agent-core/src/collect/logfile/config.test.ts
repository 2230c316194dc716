import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConfigError, parseConfig } from '../../config/index.ts';
import { isOutpostError } from '../../errors.ts';
import { createInputs, LogFileInput } from '../index.ts';
import { silent } from './fixtures.ts';

const FILE = '/etc/outpost/agent.yaml';

test('logfile config: inputs.logs parses with units, defaults and paths made absolute', () => {
  const { config } = parseConfig(
    `inputs:
  system: { enabled: false }
  processes: { enabled: false }
  logs:
    - name: app
      paths: ["/var/log/app/*.log", "relative/*.log"]
      exclude: ["*.gz"]
      start_at: beginning
      multiline: { start_pattern: '^\\d{4}-\\d{2}-\\d{2}', max_lines: 500, timeout: 2s }
      max_record_bytes: 64KiB
      partial_line_timeout: 5s
      encoding: utf8
      poll_interval: 1s
    - name: sys
      paths: [/var/log/syslog]
`,
    { path: FILE, env: {} },
  );
  assert.deepEqual(config.inputs.logs, [
    {
      name: 'app',
      paths: ['/var/log/app/*.log', '/etc/outpost/relative/*.log'],
      exclude: ['*.gz'],
      start_at: 'beginning',
      multiline: { start_pattern: '^\\d{4}-\\d{2}-\\d{2}', max_lines: 500, timeout: 2000 },
      max_record_bytes: 65536,
      partial_line_timeout: 5000,
      rotate_wait: 5000,
      encoding: 'utf8',
      poll_interval: 1000,
    },
    {
      name: 'sys',
      paths: ['/var/log/syslog'],
      exclude: [],
      start_at: 'end',
      multiline: null,
      max_record_bytes: 65536,
      partial_line_timeout: 5000,
      rotate_wait: 5000,
      encoding: 'utf8',
      poll_interval: 1000,
    },
  ]);
  const emit = async () => true;
  assert.throws(
    () => createInputs(config.inputs, { emit, logger: silent }),
    (err) => isOutpostError(err, 'E_LOGFILE_OPTIONS') && /readCursors/.test(err.message),
  );
  const inputs = createInputs(config.inputs, { emit, logger: silent, readCursors: () => new Map() });
  assert.deepEqual(
    inputs.map((i) => [i.name, i instanceof LogFileInput]),
    [
      ['app', true],
      ['sys', true],
    ],
  );
});

test('logfile config: bad entries are reported with their line and key', () => {
  const text = `inputs:
  logs:
    - name: "a:b"
      paths: []
      multiline: { start_pattern: "(" }
    - name: x
      paths: [/a]
    - name: x
      paths: [/b]
      start_at: middle
`;
  assert.throws(
    () => parseConfig(text, { path: FILE, env: {} }),
    (err) => {
      const keys = (err as ConfigError).issues.map((i) => `${i.line} ${i.key}`);
      assert.deepEqual(keys.sort(), [
        '10 inputs.logs[2].start_at',
        '3 inputs.logs[0].name',
        '4 inputs.logs[0].paths',
        '5 inputs.logs[0].multiline.start_pattern',
      ]);
      return true;
    },
  );
  // Checked once every entry is valid on its own.
  assert.throws(
    () =>
      parseConfig('inputs:\n  logs:\n    - { name: x, paths: [/a] }\n    - { name: x, paths: [/b] }\n', {
        path: FILE,
        env: {},
      }),
    (err) => {
      const [issue] = (err as ConfigError).issues;
      assert.equal(
        `${issue?.line} ${issue?.key} ${issue?.message}`,
        '4 inputs.logs[1].name duplicate log input name "x"',
      );
      return true;
    },
  );
});
