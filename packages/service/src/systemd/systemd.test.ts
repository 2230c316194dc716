import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  installUnit,
  MIN_NOTIFY_SYSTEMD,
  type NotifySupport,
  notifySupport,
  parseCpuQuota,
  parseMemoryMax,
  parseWatchdogSec,
  renderUnit,
  type UnitOptions,
  uninstallUnit,
} from './index.ts';

const NOTIFY: NotifySupport = { type: 'notify', reason: 'systemd 252 with systemd-notify' };

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-service-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function unit(overrides: Partial<UnitOptions> = {}): UnitOptions {
  return {
    name: 'outpost-agent',
    description: 'Outpost agent',
    execStart: [
      '/usr/bin/node',
      '/usr/lib/node_modules/@outpost/agent-core/dist/cli/outpost-agent.js',
      '--config',
      '/etc/outpost/agent.yaml',
    ],
    reloadOnSighup: true,
    user: 'outpost',
    stateDirectory: 'outpost',
    configurationDirectory: 'outpost',
    environmentFile: '/etc/outpost/agent.env',
    memoryMax: 256 * 1024 * 1024,
    cpuQuota: 20,
    timeoutStopSec: 30,
    watchdogSec: 60,
    ...overrides,
  };
}

function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) map.set(match[1] as string, [...(map.get(match[1] as string) ?? []), match[2] as string]);
  }
  return map;
}

test('systemd: renderUnit runs the bin with node by absolute path, as its user, hardened and limited', () => {
  const text = renderUnit(unit());
  const d = directives(text);
  assert.deepEqual(d.get('ExecStart'), [
    '/usr/bin/node /usr/lib/node_modules/@outpost/agent-core/dist/cli/outpost-agent.js --config /etc/outpost/agent.yaml',
  ]);
  assert.deepEqual(d.get('Type'), ['notify']);
  assert.deepEqual(d.get('NotifyAccess'), ['all'], 'systemd-notify, a child process, speaks for the daemon');
  assert.deepEqual(d.get('WatchdogSec'), ['60s']);
  assert.deepEqual(d.get('User'), ['outpost']);
  assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  assert.deepEqual(d.get('Restart'), ['on-failure']);
  assert.deepEqual(d.get('StateDirectory'), ['outpost']);
  assert.deepEqual(d.get('ReadWritePaths'), ['/var/lib/outpost']);
  assert.deepEqual(d.get('EnvironmentFile'), ['-/etc/outpost/agent.env']);
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['MemoryMax', '256M'],
    ['CPUQuota', '20%'],
  ] as const) {
    assert.deepEqual(d.get(key), [value], key);
  }
  assert.match(text, /^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^\[Install\]$\nWantedBy=multi-user\.target$/m);
});

test('systemd: renderUnit quotes paths with spaces, escapes % and $, and leaves out limits set to none', () => {
  const text = renderUnit(
    unit({
      execStart: [
        '/opt/node 24/bin/node',
        '/opt/out$post/100%/outpost-agent.js',
        '--config',
        '/etc/outpost/agent.yaml',
      ],
      readWritePaths: ['/srv/outpost state'],
      memoryMax: null,
      cpuQuota: null,
    }),
  );
  const d = directives(text);
  assert.deepEqual(d.get('ExecStart'), [
    '"/opt/node 24/bin/node" /opt/out$$post/100%%/outpost-agent.js --config /etc/outpost/agent.yaml',
  ]);
  assert.deepEqual(d.get('ReadWritePaths'), ['/var/lib/outpost "/srv/outpost state"']);
  assert.equal(d.has('MemoryMax'), false);
  assert.equal(d.has('CPUQuota'), false);
  assert.deepEqual(directives(renderUnit(unit({ memoryMax: 1536 * 1024 * 1024 }))).get('MemoryMax'), [
    '1536M',
  ]);
  assert.deepEqual(directives(renderUnit(unit({ memoryMax: 1000 }))).get('MemoryMax'), ['1000']);
});

test('systemd: a daemon without SIGHUP reload (the collector) gets no ExecReload, and no CPUQuota when none', () => {
  const text = renderUnit({
    name: 'outpost-collector',
    description: 'Outpost collector',
    reloadOnSighup: false,
    execStart: [
      '/usr/bin/node',
      '/opt/outpost-collector.js',
      'serve',
      '--data-dir',
      '/var/lib/outpost-collector',
    ],
    user: 'outpost',
    stateDirectory: 'outpost-collector',
    configurationDirectory: 'outpost',
    memoryMax: 2 ** 30,
    cpuQuota: null,
    timeoutStopSec: 30,
    watchdogSec: null,
  });
  assert.match(
    text,
    /^ExecStart=\/usr\/bin\/node \/opt\/outpost-collector\.js serve --data-dir \/var\/lib\/outpost-collector$/m,
  );
  assert.doesNotMatch(text, /ExecReload/, 'the collector stops on SIGHUP: no reload directive');
  assert.match(text, /^ReadWritePaths=\/var\/lib\/outpost-collector$/m);
  assert.match(text, /^MemoryMax=1G$/m);
  assert.doesNotMatch(text, /CPUQuota/);
  assert.doesNotMatch(text, /EnvironmentFile/);
  assert.match(text, /^Type=notify\nNotifyAccess=all$/m);
  assert.doesNotMatch(text, /WatchdogSec/, 'watchdogSec null: no watchdog');
});

test('systemd: Type=exec (a host without systemd-notify) has no NotifyAccess and no watchdog', () => {
  const d = directives(renderUnit(unit({ type: 'exec' })));
  assert.deepEqual(d.get('Type'), ['exec']);
  assert.equal(d.has('NotifyAccess'), false);
  assert.equal(d.has('WatchdogSec'), false, 'nobody would feed it: systemd would kill a healthy daemon');
  assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
});

test("systemd: notifySupport reads this host's systemd version and systemd-notify", () => {
  const support = notifySupport();
  const version = spawnSync('systemctl', ['--version'], { encoding: 'utf8' });
  const major = Number(/^systemd (\d+)/.exec(version.stdout ?? '')?.[1]);
  const haveNotify = !spawnSync('systemd-notify', ['--version'], { stdio: 'ignore' }).error;
  const expected = major >= MIN_NOTIFY_SYSTEMD && haveNotify ? 'notify' : 'exec';
  assert.equal(support.type, expected, support.reason);
  if (Number.isInteger(major)) assert.match(support.reason, new RegExp(`systemd ${major}`));
});

test('systemd: limits read as systemd and the config write them', () => {
  assert.equal(parseMemoryMax('256M'), 256 * 2 ** 20);
  assert.equal(parseMemoryMax('1g'), 2 ** 30);
  assert.equal(parseMemoryMax('512MiB'), 512 * 2 ** 20);
  assert.equal(parseMemoryMax('none'), null);
  assert.equal(parseMemoryMax('lots'), undefined);
  assert.equal(parseMemoryMax('1GB'), 1e9);
  assert.equal(parseMemoryMax('64 Ki'), 64 * 1024);
  assert.equal(parseMemoryMax('1.5G'), 1.5 * 2 ** 30);
  assert.equal(parseMemoryMax('1048576'), 2 ** 20);
  assert.equal(parseMemoryMax('1.5'), undefined, 'a fraction of a byte');
  assert.equal(parseMemoryMax('1P'), undefined);
  assert.equal(parseCpuQuota('20%'), 20);
  assert.equal(parseCpuQuota('150%'), 150);
  assert.equal(parseCpuQuota('none'), null);
  assert.equal(parseCpuQuota('20'), undefined);
  assert.equal(parseCpuQuota('0%'), undefined);
  assert.equal(parseWatchdogSec('60'), 60);
  assert.equal(parseWatchdogSec('90s'), 90);
  assert.equal(parseWatchdogSec('2min'), 120);
  assert.equal(parseWatchdogSec('2m'), 120);
  assert.equal(parseWatchdogSec('none'), null);
  assert.equal(parseWatchdogSec('0'), null);
  assert.equal(parseWatchdogSec('soon'), undefined);
  assert.equal(parseWatchdogSec('1.5s'), undefined);
  assert.equal(parseWatchdogSec('2d'), undefined);
});

test('systemd: systemd-analyze verify accepts the generated unit', async (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    t.skip('systemd-analyze not installed');
    return;
  }
  const dir = tempDir(t);
  // verify checks that ExecStart's program exists and can run: point it at real files.
  const script = join(dir, 'outpost-agent.js');
  writeFileSync(script, '');
  for (const type of ['notify', 'exec'] as const) {
    const file = join(dir, `outpost-agent-${type}.service`);
    const text = renderUnit(
      unit({
        type,
        execStart: [process.execPath, script, '--config', join(dir, 'agent.yaml')],
        readWritePaths: [join(dir, 'state')],
      }),
    );
    assert.match(text, new RegExp(`^Type=${type}$`, 'm'));
    writeFileSync(file, text);
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', file], { cwd: dir });
    assert.equal(`${stdout}${stderr}`.trim(), '', `no warning about the Type=${type} unit`);
  }

  const broken = join(dir, 'broken.service');
  writeFileSync(
    broken,
    renderUnit(unit({ execStart: [join(dir, 'no-such-node'), script] })).replace(
      'CPUQuota=20%',
      'CPUQuota=lots',
    ),
  );
  const failed = spawnSync('systemd-analyze', ['verify', broken], { cwd: dir, encoding: 'utf8' });
  assert.notEqual(failed.status, 0, 'the check itself can fail');
  assert.match(failed.stderr, /Invalid CPU quota|not executable/);
});

test('systemd: install writes the unit and never creates a user without root; uninstall removes it', (t) => {
  const dir = tempDir(t);
  const printed: string[] = [];
  const print = (text: string) => printed.push(text);

  const missing = `outpost-no-such-user-${process.pid}`;
  const result = installUnit({
    unit: unit({ user: missing }),
    unitDir: dir,
    dryRun: false,
    print,
    isRoot: false,
    notifySupport: NOTIFY,
  });
  assert.equal(result.path, join(dir, 'outpost-agent.service'));
  assert.equal(result.written, true);
  assert.equal(result.type, 'notify');
  assert.equal(result.userCreated, false);
  assert.deepEqual(result.userAdd?.slice(0, 2), ['useradd', '--system']);
  assert.equal(readFileSync(result.path, 'utf8'), renderUnit(unit({ user: missing })));
  assert.equal(statSync(result.path).mode & 0o777, 0o644);
  const output = printed.join('');
  assert.match(
    output,
    /^Type=notify \(systemd 252 with systemd-notify\): the daemon reports ready, reloading and stopping; WatchdogSec=60s$/m,
  );
  assert.match(output, new RegExp(`as root, create it with:\\n  useradd --system .* ${missing}\\n`));
  assert.match(output, /systemctl daemon-reload && systemctl enable --now outpost-agent/);

  // An existing user is used as is, even as root: nothing to create.
  const existing = installUnit({
    unit: unit({ user: userInfo().username }),
    unitDir: dir,
    dryRun: false,
    print,
    isRoot: true,
    notifySupport: { type: 'exec', reason: 'systemd 245 is older than 246' },
  });
  assert.equal(existing.userAdd, null);
  assert.equal(existing.type, 'exec');
  assert.match(readFileSync(existing.path, 'utf8'), /^Type=exec$/m);
  assert.match(
    printed.join(''),
    /^Type=exec \(systemd 245 is older than 246\): systemd counts the daemon as started once it runs, no watchdog$/m,
  );

  printed.length = 0;
  const dry = installUnit({
    unit: unit(),
    unitDir: join(dir, 'never'),
    dryRun: true,
    print,
    isRoot: true,
    notifySupport: NOTIFY,
  });
  assert.equal(dry.written, false);
  assert.equal(existsSync(join(dir, 'never')), false);
  assert.ok(printed.join('').includes(renderUnit(unit())), 'the dry run prints the unit');
  assert.match(printed.join(''), /^# Type=notify \(/m, 'the dry run says which Type, as a comment');

  printed.length = 0;
  assert.deepEqual(
    uninstallUnit({
      name: 'outpost-agent',
      unitDir: dir,
      dryRun: false,
      print,
      isRoot: true,
      systemdRunning: false,
    }),
    {
      path: result.path,
      removed: true,
    },
  );
  assert.equal(existsSync(result.path), false);
  assert.match(printed.join(''), /systemctl disable --now outpost-agent; systemctl daemon-reload/);
  assert.equal(uninstallUnit({ name: 'outpost-agent', unitDir: dir, dryRun: false, print }).removed, false);
});

test('systemd: install refuses a unit dir it cannot write with the fix in the message', (t) => {
  const dir = tempDir(t);
  assert.throws(
    () =>
      installUnit({
        unit: unit({ user: userInfo().username }),
        unitDir: join(dir, 'a', 'b'),
        dryRun: false,
        print: () => {},
      }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_SERVICE_WRITE');
      assert.match(err.message, /outpost-agent\.service: the directory does not exist/);
      return true;
    },
  );
});
