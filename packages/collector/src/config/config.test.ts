import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import { loadCollectorConfig, parseDuration, parseSize } from './index.ts';

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-config-'));

function writeConfig(text: string): string {
  const file = path.join(tempDir(), 'collector.yaml');
  writeFileSync(file, text);
  return file;
}

async function configError(promise: Promise<unknown>) {
  const err = await promise.then(
    () => assert.fail('expected the config to be refused'),
    (e: unknown) => e,
  );
  assert.ok(isOutpostError(err, 'E_CONFIG_INVALID'), `unexpected error: ${String(err)}`);
  return err;
}

test('config: sizes and durations read the way ops write them', () => {
  assert.equal(parseSize('8MiB'), 8 * 1024 * 1024);
  assert.equal(parseSize('512 KiB'), 512 * 1024);
  assert.equal(parseSize('10MB'), 10_000_000);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize('8 parsecs'), undefined);
  assert.equal(parseSize(-1), undefined);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30'), undefined, 'a bare number is ambiguous');
  assert.equal(parseDuration(30), undefined);
});

test('config: defaults when nothing is given', async () => {
  const cwd = tempDir();
  const config = await loadCollectorConfig({ cwd, env: {}, runningAsRoot: false });
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 7410 });
  assert.equal(config.dataDir, path.join(cwd, '.outpost/collector'));
  assert.equal(config.enrollmentToken, undefined);
  assert.equal(config.adminToken, undefined);
  assert.deepEqual(config.limits, {
    maxBodyBytes: 8 * 1024 * 1024,
    maxDecompressedBytes: 64 * 1024 * 1024,
    maxRecordsPerBatch: 10_000,
  });
  assert.equal(config.agents.offlineAfterMs, 30_000);
  assert.equal(config.log.level, 'info');
  const asRoot = await loadCollectorConfig({ cwd, env: {}, runningAsRoot: true });
  assert.equal(asRoot.dataDir, '/var/lib/outpost-collector');
});

test('config: file, then env, then flags, each overriding the one before', async () => {
  const file = writeConfig(
    [
      'listen: 0.0.0.0:9000',
      'data_dir: /srv/outpost',
      'admin_token: file-admin-token-0123456789',
      'enrollment_token: file-enroll-token-0123456789',
      'limits:',
      '  max_body_bytes: 1MiB',
      '  max_records_per_batch: 50',
      'agents:',
      '  offline_after: 90s',
      'log:',
      '  level: warn',
      '',
    ].join('\n'),
  );
  const config = await loadCollectorConfig({
    file,
    env: { OUTPOST_ADMIN_TOKEN: 'env-admin-token-0123456789' },
    flags: { listen: '[::1]:0', logLevel: 'debug' },
  });
  assert.deepEqual(config.listen, { host: '::1', port: 0 });
  assert.equal(config.dataDir, '/srv/outpost');
  assert.equal(config.adminToken, 'env-admin-token-0123456789');
  assert.equal(config.enrollmentToken, 'file-enroll-token-0123456789');
  assert.equal(config.limits.maxBodyBytes, 1024 * 1024);
  assert.equal(config.limits.maxDecompressedBytes, 64 * 1024 * 1024);
  assert.equal(config.limits.maxRecordsPerBatch, 50);
  assert.equal(config.agents.offlineAfterMs, 90_000);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.configFile, file);
});

test('config: a misspelt key is reported with file, line and key, and a suggestion', async () => {
  const file = writeConfig('listen: 127.0.0.1:7410\nlimits:\n  max_body_byte: 8MiB\n');
  const err = await configError(loadCollectorConfig({ file, env: {} }));
  assert.match(
    err.message,
    new RegExp(`${file.replaceAll('.', '\\.')}:3:3: key "limits\\.max_body_byte": unknown key`),
  );
  assert.match(err.message, /did you mean "max_body_bytes"/);
  assert.deepEqual(err.details?.problems, [
    {
      key: 'limits.max_body_byte',
      message: 'unknown key (did you mean "max_body_bytes"?)',
      line: 3,
      column: 3,
    },
  ]);
});

test('config: a bad value names its line and key', async () => {
  const file = writeConfig('agents:\n  offline_after: 30\nlog:\n  level: loud\n');
  const err = await configError(loadCollectorConfig({ file, env: {} }));
  const problems = err.details?.problems as { key: string; line: number }[];
  assert.deepEqual(
    problems.map((p) => [p.key, p.line]),
    [
      ['agents.offline_after', 2],
      ['log.level', 4],
    ],
  );
  assert.match(err.message, /key "agents\.offline_after": expected a duration/);
});

test('config: YAML syntax errors carry the line', async () => {
  const file = writeConfig('listen: 127.0.0.1:7410\nlimits:\n  max_body_bytes: [8MiB\n');
  const err = await configError(loadCollectorConfig({ file, env: {} }));
  const problems = err.details?.problems as { line?: number }[];
  assert.ok(problems[0]?.line !== undefined && problems[0].line >= 3, err.message);
});

test('config: an empty file and empty sections are fine', async () => {
  const empty = await loadCollectorConfig({ file: writeConfig(''), env: {}, runningAsRoot: false });
  assert.equal(empty.limits.maxRecordsPerBatch, 10_000);
  const sections = await loadCollectorConfig({ file: writeConfig('limits:\nagents:\n'), env: {} });
  assert.equal(sections.agents.offlineAfterMs, 30_000);
});

test('config: bad flags and env vars are named as such', async () => {
  const flagErr = await configError(loadCollectorConfig({ env: {}, flags: { listen: 'localhost' } }));
  assert.match(flagErr.message, /--listen: expected host:port/);
  const envErr = await configError(loadCollectorConfig({ env: { OUTPOST_ENROLLMENT_TOKEN: 'short' } }));
  assert.match(envErr.message, /OUTPOST_ENROLLMENT_TOKEN: must be at least 16/);
});

test('config: a missing file is a config error naming it', async () => {
  const file = path.join(tempDir(), 'nope.yaml');
  const err = await configError(loadCollectorConfig({ file, env: {} }));
  assert.match(err.message, /cannot read config file .*nope\.yaml/);
});
