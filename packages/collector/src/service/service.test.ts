import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { notifySupport } from '@outpost/service/systemd';

const CLI = fileURLToPath(new URL('../cli/outpost-collector.ts', import.meta.url));

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-collector-service-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('collector service: install --dry-run prints a unit systemd-analyze accepts; install and uninstall', (t) => {
  const dir = tempDir(t);
  const dry = run(
    'service',
    'install',
    '--dry-run',
    '--unit-dir',
    dir,
    '--config',
    join(dir, 'collector.yaml'),
  );
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /^ExecStart=\S+ --conditions=outpost-source \S+\/outpost-collector\.ts serve --config \S+collector\.yaml --data-dir \/var\/lib\/outpost-collector$/m,
  );
  assert.match(dry.stderr, /collector\.yaml does not exist yet/);
  // Type=notify with the default watchdog where this host's systemd supports it, else Type=exec.
  const support = notifySupport();
  assert.match(dry.stdout, new RegExp(`^# Type=${support.type} \\(`, 'm'));
  assert.match(dry.stdout, new RegExp(`^Type=${support.type}$`, 'm'));
  assert.equal(/^WatchdogSec=60s$/m.test(dry.stdout), support.type === 'notify');
  assert.equal(existsSync(join(dir, 'outpost-collector.service')), false);

  if (spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).error) {
    t.diagnostic('systemd-analyze not installed: unit not verified');
  } else {
    // The dry run names the real node and script, which is what verify needs to find.
    const file = join(dir, 'outpost-collector.service');
    writeFileSync(file, dry.stdout.replace(/^# the user[\s\S]*$/m, ''));
    const verify = spawnSync('systemd-analyze', ['verify', file], { cwd: dir, encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(`${verify.stdout}${verify.stderr}`.trim(), '');
    rmSync(file);
  }

  const user = userInfo().username;
  const installed = run('service', 'install', '--unit-dir', dir, '--user', user, '--cpu-quota', '150%');
  assert.equal(installed.status, 0, installed.stderr);
  const unit = readFileSync(join(dir, 'outpost-collector.service'), 'utf8');
  assert.match(unit, new RegExp(`^User=${user}$`, 'm'));
  assert.match(unit, /^CPUQuota=150%$/m);
  assert.match(installed.stdout, /systemctl daemon-reload && systemctl enable --now outpost-collector/);

  const bad = run('service', 'install', '--dry-run', '--memory-max', 'big');
  assert.equal(bad.status, 1);
  assert.match(
    bad.stderr,
    /^outpost-collector: --memory-max: expected a size like 1G or 512MiB, or "none", got "big"$/m,
  );
  const badWatchdog = run('service', 'install', '--dry-run', '--watchdog-sec', 'soon');
  assert.equal(badWatchdog.status, 1);
  assert.match(
    badWatchdog.stderr,
    /^outpost-collector: --watchdog-sec: expected seconds like 60 or 2min, or "none", got "soon"$/m,
  );

  const removed = run('service', 'uninstall', '--unit-dir', dir);
  assert.equal(removed.status, 0, removed.stderr);
  assert.equal(existsSync(join(dir, 'outpost-collector.service')), false);
});
