// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${VAR}" is the config interpolation syntax, not a mistaken template literal
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import {
  type AgentConfig,
  ConfigError,
  DEFAULT_CONFIG_PATH,
  defaultConfig,
  loadConfig,
  parseConfig,
  SYSTEM_METRIC_GROUPS,
} from './index.ts';
import { defaultStateDir } from './schema.ts';

const FILE = '/etc/outpost/agent.yaml';

function parseError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, { path: FILE, env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.code, 'E_CONFIG_INVALID');
    return err;
  }
  assert.fail('expected the config to be rejected');
}

const positions = (err: ConfigError) => err.issues.map((i) => `${i.line}:${i.column} ${i.key}`);

test('config: defaults without any file', async (t) => {
  const env = { OUTPOST_ENROLLMENT_TOKEN: 'tok-123' };
  const config = defaultConfig(env);
  assert.equal(config.collector.url, 'http://127.0.0.1:7410');
  assert.equal(config.collector.enrollment_token, 'tok-123');
  assert.equal(config.collector.request_timeout, 10_000);
  assert.equal(config.agent.hostname, os.hostname());
  assert.deepEqual(config.agent.labels, {});
  assert.deepEqual(config.inputs.system, {
    enabled: true,
    interval: 10_000,
    metrics: [...SYSTEM_METRIC_GROUPS],
  });
  assert.deepEqual(config.inputs.processes, { enabled: true, interval: 10_000, self: true, match: [] });
  assert.deepEqual(config.queue, {
    max_bytes: 256 * 1024 ** 2,
    max_age: 7 * 86_400_000,
    policy: 'drop_oldest',
    durability: 'normal',
  });
  assert.deepEqual(config.send, {
    batch_max_records: 1000,
    batch_max_bytes: 1024 ** 2,
    batch_max_wait: 1000,
    max_in_flight: 4,
    compression: 'zstd',
    retry: { initial_backoff: 500, max_backoff: 30_000, max_retry_after: 300_000 },
  });
  assert.equal(config.heartbeat.interval, 10_000);
  assert.equal(config.shutdown.grace_period, 10_000);
  assert.equal(config.control.socket, path.join(config.agent.state_dir, 'agent.sock'));
  assert.equal(config.log.level, 'info');
  assert.equal(defaultConfig({}).collector.enrollment_token, '');

  await t.test(
    'loadConfig falls back to defaults when the default file is absent',
    { skip: existsSync(DEFAULT_CONFIG_PATH) && `${DEFAULT_CONFIG_PATH} exists here` },
    async () => {
      const loaded = await loadConfig({ env });
      assert.equal(loaded.path, null);
      assert.equal(loaded.version, 'defaults');
      assert.deepEqual(loaded.config, config);
    },
  );
});

test('config: default state dir is /var/lib/outpost for root, the XDG state dir otherwise', () => {
  assert.equal(defaultStateDir({ HOME: '/home/ann' }, 0), '/var/lib/outpost');
  assert.equal(
    defaultStateDir({ HOME: '/home/ann', XDG_STATE_HOME: '/xdg/state' }, 1000),
    '/xdg/state/outpost',
  );
  assert.equal(
    defaultStateDir({ HOME: '/home/ann', XDG_STATE_HOME: 'relative' }, 1000),
    '/home/ann/.local/state/outpost',
  );
  assert.equal(defaultStateDir({ HOME: '/home/ann' }, 1000), '/home/ann/.local/state/outpost');
  assert.equal(defaultStateDir({ HOME: '/home/ann' }, undefined), '/home/ann/.local/state/outpost');
});

test('config: a full valid file', () => {
  const text = `collector:
  url: https://collector.example.com:8443/
  enrollment_token: s3cret
  request_timeout: 3s
agent:
  state_dir: /srv/outpost
  hostname: web-1
  labels: { env: prod, team: "12" }
inputs:
  system:
    enabled: false
    interval: 30s
    metrics: [cpu, memory, cpu]
  processes:
    enabled: true
    interval: 500ms
    self: false
    match:
      - name: nginx
      - pid: 1
      - pattern: "postgres: .*checkpointer"
queue:
  max_bytes: 1GiB
  max_age: 2d
  policy: block
  durability: full
send:
  batch_max_records: 500
  batch_max_bytes: 512KiB
  batch_max_wait: 250ms
  compression: none
  retry:
    initial_backoff: 1s
    max_backoff: 1m
    max_retry_after: 10m
heartbeat:
  interval: 15s
shutdown:
  grace_period: 0s
control:
  socket: /run/outpost/agent.sock
log:
  level: debug
`;
  const loaded = parseConfig(text, { path: FILE, env: {} });
  const expected: AgentConfig = {
    collector: {
      url: 'https://collector.example.com:8443/',
      enrollment_token: 's3cret',
      request_timeout: 3000,
    },
    agent: { state_dir: '/srv/outpost', hostname: 'web-1', labels: { env: 'prod', team: '12' } },
    inputs: {
      system: { enabled: false, interval: 30_000, metrics: ['cpu', 'memory'] },
      processes: {
        enabled: true,
        interval: 500,
        self: false,
        match: [{ name: 'nginx' }, { pid: 1 }, { pattern: 'postgres: .*checkpointer' }],
      },
      logs: [],
    },
    processors: [],
    queue: { max_bytes: 1024 ** 3, max_age: 2 * 86_400_000, policy: 'block', durability: 'full' },
    send: {
      batch_max_records: 500,
      batch_max_bytes: 512 * 1024,
      batch_max_wait: 250,
      max_in_flight: 4,
      compression: 'none',
      retry: { initial_backoff: 1000, max_backoff: 60_000, max_retry_after: 600_000 },
    },
    heartbeat: { interval: 15_000 },
    shutdown: { grace_period: 0 },
    control: { socket: '/run/outpost/agent.sock' },
    log: { level: 'debug', format: 'auto' },
    metrics: { listen: null },
    service: { memory_max: 512 * 1024 ** 2, cpu_quota: 20, watchdog: 60_000 },
    limits: { cpu_percent: 15, memory: 384 * 1024 ** 2, interval: 5000 },
    plugins: {
      enabled: true,
      dir: '/srv/outpost/plugins',
      limits: {
        memory: 64 * 1024 ** 2,
        timeout: 5000,
        cpu_budget: 10_000,
        cpu_window: 60_000,
        max_records_per_call: 10_000,
      },
      restart: { initial_backoff: 1000, max_backoff: 300_000, quarantine_after: 5, failure_window: 600_000 },
      overrides: {},
    },
    fleet: { remote_config: true, commands: true, upgrade_command: null, upgrade_timeout: 600_000 },
  };
  assert.deepEqual(loaded.config, expected);
  assert.equal(loaded.path, FILE);
  assert.match(loaded.version, /^sha256:[0-9a-f]{64}$/);
  assert.equal(parseConfig(text, { path: FILE, env: {} }).version, loaded.version);
  assert.notEqual(parseConfig(`${text}\n`, { path: FILE, env: {} }).version, loaded.version);
});

test('config: empty file, empty sections and empty values mean defaults', () => {
  const defaults = defaultConfig({});
  assert.deepEqual(parseConfig('', { path: FILE, env: {} }).config, defaults);
  assert.deepEqual(parseConfig('# nothing yet\n', { path: FILE, env: {} }).config, defaults);
  const loaded = parseConfig('inputs:\n  system:\nqueue:\n  max_bytes:\n', { path: FILE, env: {} });
  assert.deepEqual(loaded.config, defaults);
});

test('config: ${VAR} interpolation with defaults and the $${ escape', () => {
  const text = `# commented out: enrollment_token: \${NOT_SET_ANYWHERE}
collector:
  url: \${COLLECTOR_URL}
  enrollment_token: "\${TOKEN:-fallback}"
agent:
  hostname: \${EMPTY:-from-default}
  labels:
    literal: "$\${NOT_A_VAR}"
    mixed: "a-\${ZONE}-b"
    unset_default: "\${UNSET:-}"
    empty_no_default: "[\${EMPTY}]"
queue:
  max_bytes: \${QUEUE_SIZE:-64MiB}
`;
  const env = { COLLECTOR_URL: 'https://c.example:7410', EMPTY: '', ZONE: 'eu-1' };
  const { config } = parseConfig(text, { path: FILE, env });
  assert.equal(config.collector.url, 'https://c.example:7410');
  assert.equal(config.collector.enrollment_token, 'fallback');
  assert.equal(config.agent.hostname, 'from-default');
  assert.deepEqual(config.agent.labels, {
    literal: '${NOT_A_VAR}',
    mixed: 'a-eu-1-b',
    unset_default: '',
    empty_no_default: '[]',
  });
  assert.equal(config.queue.max_bytes, 64 * 1024 ** 2);
  assert.equal(
    parseConfig(text, { path: FILE, env: { ...env, TOKEN: 't0k' } }).config.collector.enrollment_token,
    't0k',
  );
  assert.equal(
    parseConfig(text, { path: FILE, env: { ...env, QUEUE_SIZE: '2GiB' } }).config.queue.max_bytes,
    2 * 1024 ** 3,
  );
});

test('config: an unset variable is reported at its own line and column with its key', () => {
  const err = parseError(
    'collector:\n  url: http://x:1\n  enrollment_token: ${OUTPOST_TOKEN}\nlog:\n  level: "${LVL"\n',
  );
  // The unterminated reference stays in the text, so log.level also fails the enum check.
  assert.deepEqual(positions(err), ['3:21 collector.enrollment_token', '5:10 log.level', '5:11 log.level']);
  assert.match(err.issues[0]?.message ?? '', /OUTPOST_TOKEN is not set/);
  assert.match(err.issues[2]?.message ?? '', /unterminated/);
});

test('config: positions after a substitution point at what the user wrote', () => {
  const err = parseError('agent:\n  labels: { a: "${LONG}", b: 12 }\n', { LONG: 'x'.repeat(40) });
  assert.deepEqual(positions(err), ['2:30 agent.labels.b']);
});

test('config: several errors at once, each with line, column and key', () => {
  const text = `collector:
  url: ftp://collector
  request_timeout: soon
inputs:
  system:
    interval: 50ms
    metrics: [cpu, memroy]
  processes:
    match:
      - name: nginx
      - pid: 0
      - pattern: "(["
      - { name: a, pid: 3 }
queue:
  max_bytes: lots
  policy: drop_newest
send:
  batch_max_records: 0
  retry: { initial_backoff: 10s, max_backoff: 1s }
heartbeat:
  interval: 10
agent:
  hostname: 42
`;
  const err = parseError(text);
  assert.deepEqual(positions(err), [
    '2:8 collector.url',
    '3:20 collector.request_timeout',
    '6:15 inputs.system.interval',
    '7:20 inputs.system.metrics[1]',
    '11:14 inputs.processes.match[1].pid',
    '12:18 inputs.processes.match[2].pattern',
    '13:9 inputs.processes.match[3]',
    '15:14 queue.max_bytes',
    '16:11 queue.policy',
    '18:22 send.batch_max_records',
    '19:47 send.retry.max_backoff',
    '21:13 heartbeat.interval',
    '23:13 agent.hostname',
  ]);
  const line = (key: string) => err.message.split('\n').find((l) => l.includes(` ${key}: `));
  assert.equal(
    line('queue.max_bytes'),
    `${FILE}:15:14: queue.max_bytes: expected a size like "256MiB", got "lots"`,
  );
  assert.match(
    line('queue.policy') ?? '',
    /expected one of drop_oldest, block, got "drop_newest" \(did you mean "drop_oldest"\?\)/,
  );
  assert.match(line('inputs.system.interval') ?? '', /must be at least 100ms, got "50ms"/);
  assert.match(line('heartbeat.interval') ?? '', /add a unit/);
  assert.match(line('agent.hostname') ?? '', /expected a string, got 42 \(quote it: "42"\)/);
  assert.equal(err.message.split('\n').length, err.issues.length);
  assert.ok(err.issues.every((i) => i.file === FILE));
});

test('config: bad YAML syntax is reported at the parser position', () => {
  const err = parseError('collector:\n  url: http://x:1\nqueue:\n  policy: [block\n  durability: full\n');
  assert.equal(err.issues.length >= 1, true);
  const first = err.issues[0];
  assert.equal(first?.line, 5);
  assert.equal(first?.column, 3);
  assert.equal(first?.key, '');
  assert.match(err.message, new RegExp(`^${FILE}:5:3: `));

  const dup = parseError('log:\n  level: info\n  level: warn\n');
  assert.deepEqual(
    dup.issues.map((i) => [i.line, i.column]),
    [[3, 3]],
  );
  assert.match(dup.message, /unique/);
});

test('config: unknown keys are errors, with a suggestion when one is close', () => {
  const err = parseError(
    'colector:\n  url: http://x:1\nqueue:\n  max_byte: 1MiB\n  frobnicate: true\nagent:\n  labels: {}\n  hostnme:\n',
  );
  assert.deepEqual(
    err.issues.map((i) => `${i.line}:${i.column} ${i.key}: ${i.message}`),
    [
      '1:1 colector: unknown key (did you mean "collector"?)',
      '4:3 queue.max_byte: unknown key (did you mean "max_bytes"?)',
      '5:3 queue.frobnicate: unknown key',
      '8:3 agent.hostnme: unknown key (did you mean "hostname"?)',
    ],
  );
});

test('config: the top level must be a mapping', () => {
  const err = parseError('- a\n- b\n');
  assert.equal(err.issues.length, 1);
  assert.match(err.issues[0]?.message ?? '', /mapping/);
});

test('config: relative state_dir and socket resolve against the config file directory', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outpost-config-'));
  try {
    const file = path.join(dir, 'agent.yaml');
    await fs.writeFile(file, 'agent:\n  state_dir: ./state\n');
    const loaded = await loadConfig({ path: file, env: {} });
    assert.equal(loaded.path, file);
    assert.equal(loaded.config.agent.state_dir, path.join(dir, 'state'));
    assert.equal(loaded.config.control.socket, path.join(dir, 'state', 'agent.sock'));

    const other = parseConfig('agent:\n  state_dir: ../var\ncontrol:\n  socket: run/agent.sock\n', {
      path: path.join(dir, 'conf', 'agent.yaml'),
      env: {},
    });
    assert.equal(other.config.agent.state_dir, path.join(dir, 'var'));
    assert.equal(other.config.control.socket, path.join(dir, 'conf', 'run', 'agent.sock'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('config: an explicit file that does not exist names the path', async () => {
  const missing = path.join(os.tmpdir(), `outpost-missing-${process.pid}`, 'agent.yaml');
  await assert.rejects(loadConfig({ path: missing }), (err: unknown) => {
    assert.ok(isOutpostError(err, 'E_CONFIG_NOT_FOUND'));
    assert.match(err.message, new RegExp(missing.replaceAll('/', '\\/')));
    return true;
  });
});

test('config: limits take a percent and a size, "none" switches one off, bad values are named', () => {
  assert.deepEqual(parseConfig('', { path: FILE, env: {} }).config.limits, {
    cpu_percent: 15,
    memory: 384 * 1024 ** 2,
    interval: 5000,
  });
  const off = parseConfig('limits:\n  cpu_percent: none\n  memory: 1GiB\n  interval: 1s\n', {
    path: FILE,
    env: {},
  });
  assert.deepEqual(off.config.limits, { cpu_percent: null, memory: 1024 ** 3, interval: 1000 });
  assert.throws(
    () => parseConfig('limits:\n  cpu_percent: 0\n  memory: lots\n', { path: FILE, env: {} }),
    (err: ConfigError) => {
      const byKey = new Map(err.issues.map((i) => [i.key, i]));
      assert.match(byKey.get('limits.cpu_percent')?.message ?? '', /percent of one core.*got 0.*"none"/);
      assert.equal(byKey.get('limits.cpu_percent')?.line, 2);
      assert.match(byKey.get('limits.memory')?.message ?? '', /size like "384MiB", got "lots"/);
      return true;
    },
  );
});
