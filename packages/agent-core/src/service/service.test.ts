import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { notifySupport } from '@outpost/service/systemd';

const AGENTCTL = fileURLToPath(new URL('../cli/agentctl.ts', import.meta.url));

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-service-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('service: agentctl service install --dry-run takes limits from the config, flags win', (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'agent.yaml');
  writeFileSync(
    config,
    'service:\n  memory_max: 512MiB\n  cpu_quota: 35%\n  watchdog: 90s\nshutdown:\n  grace_period: 40s\n',
  );
  // Type=notify, and so a watchdog, only where this host's systemd supports it.
  const notify = notifySupport().type === 'notify';
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [AGENTCTL, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });

  const fromConfig = run('service', 'install', '-c', config, '--dry-run', '--unit-dir', dir);
  assert.equal(fromConfig.status, 0, fromConfig.stderr);
  assert.match(fromConfig.stdout, /^MemoryMax=512M$/m);
  assert.match(fromConfig.stdout, /^CPUQuota=35%$/m);
  assert.match(fromConfig.stdout, /^TimeoutStopSec=60s$/m);
  assert.match(fromConfig.stdout, notify ? /^Type=notify\nNotifyAccess=all$/m : /^Type=exec$/m);
  assert.equal(/^WatchdogSec=90s$/m.test(fromConfig.stdout), notify);
  const execStart = /^ExecStart=(.*)$/m.exec(fromConfig.stdout)?.[1] ?? '';
  assert.ok(execStart.startsWith(`${process.execPath} `), execStart);
  assert.match(execStart, / \S+\/cli\/outpost-agent\.ts --config \S+agent\.yaml$/);
  assert.equal(existsSync(join(dir, 'outpost-agent.service')), false, 'a dry run writes nothing');

  const flags = run(
    'service',
    'install',
    '-c',
    config,
    '--dry-run',
    '--memory-max',
    'none',
    '--cpu-quota',
    '50%',
    '--watchdog-sec',
    'none',
  );
  assert.equal(flags.status, 0, flags.stderr);
  assert.doesNotMatch(flags.stdout, /MemoryMax/);
  assert.match(flags.stdout, /^CPUQuota=50%$/m);
  assert.doesNotMatch(flags.stdout, /WatchdogSec/);
  if (notify) {
    const defaults = run('service', 'install', '--dry-run', '--unit-dir', dir);
    assert.match(defaults.stdout, /^WatchdogSec=60s$/m, 'the default watchdog');
  }

  const bad = run('service', 'install', '--dry-run', '--cpu-quota', 'half');
  assert.equal(bad.status, 1);
  assert.equal(
    bad.stderr,
    'agentctl: --cpu-quota: expected a share of one CPU like 20%, or "none", got "half"\n',
  );
});

test('service: agentctl service install and uninstall print the steps, and the fix when the dir is missing', (t) => {
  const dir = tempDir(t);
  const run = (...args: string[]) => spawnSync(process.execPath, [AGENTCTL, ...args], { encoding: 'utf8' });
  const user = ['--user', userInfo().username];

  const missing = run('service', 'install', ...user, '--unit-dir', join(dir, 'a', 'b'));
  assert.equal(missing.status, 1);
  assert.equal(
    missing.stderr,
    `agentctl: cannot write ${join(dir, 'a', 'b', 'outpost-agent.service')}: the directory does not exist (is this a systemd host? see --unit-dir)\n`,
  );

  const installed = run('service', 'install', ...user, '--unit-dir', dir);
  assert.equal(installed.status, 0, installed.stderr);
  const file = join(dir, 'outpost-agent.service');
  assert.match(readFileSync(file, 'utf8'), new RegExp(`^User=${userInfo().username}$`, 'm'));
  const type = /^Type=(\w+)$/m.exec(readFileSync(file, 'utf8'))?.[1];
  const support = notifySupport();
  assert.equal(type, support.type);
  assert.equal(
    installed.stdout,
    `wrote ${file}\n${
      type === 'notify'
        ? `Type=notify (${support.reason}): the daemon reports ready, reloading and stopping; WatchdogSec=60s`
        : `Type=exec (${support.reason}): systemd counts the daemon as started once it runs, no watchdog`
    }\nnext:\n  systemctl daemon-reload && systemctl enable --now outpost-agent\n  journalctl -u outpost-agent -f\n`,
  );

  const removed = run('service', 'uninstall', '--unit-dir', dir);
  assert.equal(removed.status, 0, removed.stderr);
  assert.equal(existsSync(file), false);
  assert.equal(
    removed.stdout,
    [
      `removed ${file}`,
      'if the service ran, stop it and forget it: systemctl disable --now outpost-agent; systemctl daemon-reload',
      'the service user and its state directory are kept; remove them by hand if wanted',
      '',
    ].join('\n'),
  );
});
