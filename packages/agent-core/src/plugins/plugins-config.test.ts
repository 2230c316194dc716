import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../config/index.ts';

const FILE = '/etc/outpost/agent.yaml';

test('plugins config: defaults, dir relative to the config file, overrides with their own limits', () => {
  const { plugins } = parseConfig(
    `agent:
  state_dir: /srv/outpost
plugins:
  dir: plugins.d
  limits:
    memory: 32MiB
    timeout: 2s
  restart:
    quarantine_after: 3
  overrides:
    "@outpost/plugin-http-check":
      interval: 30s
      config: { urls: ["https://example.com"] }
      limits: { timeout: 10s }
    noisy:
      enabled: false
`,
    { path: FILE, env: {} },
  ).config;
  assert.equal(plugins.enabled, true);
  assert.equal(plugins.dir, '/etc/outpost/plugins.d');
  assert.deepEqual(plugins.limits, {
    memory: 32 * 1024 ** 2,
    timeout: 2000,
    cpu_budget: 10_000,
    cpu_window: 60_000,
    max_records_per_call: 10_000,
  });
  assert.deepEqual(plugins.restart, {
    initial_backoff: 1000,
    max_backoff: 300_000,
    quarantine_after: 3,
    failure_window: 600_000,
  });
  assert.deepEqual(plugins.overrides, {
    '@outpost/plugin-http-check': {
      interval: 30_000,
      config: { urls: ['https://example.com'] },
      limits: { timeout: 10_000 },
    },
    noisy: { enabled: false, limits: {} },
  });
  assert.equal(
    parseConfig('agent:\n  state_dir: /srv/o\n', { path: FILE, env: {} }).config.plugins.dir,
    '/srv/o/plugins',
  );
});

test('plugins config: errors name the line and the key', () => {
  const problems = (yaml: string) => {
    try {
      parseConfig(yaml, { path: FILE, env: {} });
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail('the config was accepted');
  };
  assert.match(
    problems('plugins:\n  limits:\n    memory: 1MiB\n'),
    /agent\.yaml:3:\d+: plugins\.limits\.memory: must be at least 8MiB, got "1MiB"/,
  );
  assert.match(
    problems('plugins:\n  overrides:\n    x:\n      intervall: 1s\n'),
    /agent\.yaml:4:\d+: plugins\.overrides\.x\.intervall: unknown key/,
  );
  assert.match(
    problems('plugins:\n  overrides:\n    x:\n      limits: { timeout: 5 }\n'),
    /plugins\.overrides\.x\.limits\.timeout: expected a duration like "5s", got 5 \(add a unit/,
  );
  assert.match(
    problems('plugins:\n  restart:\n    quarantine_after: 0\n'),
    /plugins\.restart\.quarantine_after: must be at least 1/,
  );
});
