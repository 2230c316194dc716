import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { FakeServiceManager, fakeManagerUnavailable } from '../../test/fake-service-manager.ts';
import { ServiceNotifier } from './index.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Why these tests cannot run here (no python3 to bind the socket, no systemd-notify), or null. */
function unavailable(): string | null {
  const python = fakeManagerUnavailable();
  if (python) return python;
  return spawnSync('systemd-notify', ['--version'], { stdio: 'ignore' }).error
    ? 'systemd-notify is not installed'
    : null;
}

async function manager(t: TestContext, dir: string): Promise<FakeServiceManager> {
  const started = await FakeServiceManager.start(dir);
  t.after(() => started.close());
  return started;
}

/** A systemd-notify that logs when each run starts and ends, to see that runs never overlap. */
function tracingNotify(dir: string): { command: string; trace: () => string[] } {
  const log = join(dir, 'trace.log');
  const command = join(dir, 'systemd-notify');
  writeFileSync(
    command,
    `#!/bin/sh\necho "start $*" >> '${log}'\nsystemd-notify "$@"\nrc=$?\necho end >> '${log}'\nexit $rc\n`,
  );
  chmodSync(command, 0o755);
  return {
    command,
    trace: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

function warnings(): { logger: { warn(obj: object, msg: string): void }; seen: string[] } {
  const seen: string[] = [];
  return { logger: { warn: (_obj: object, msg: string) => void seen.push(msg) }, seen };
}

test('notify: ready, reloading, ready, stopping reach the manager in order, one systemd-notify at a time', async (t) => {
  const why = unavailable();
  if (why) return t.skip(why);
  const dir = tempDir(t);
  const fake = await manager(t, dir);
  const { command, trace } = tracingNotify(dir);
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: fake.socket, PATH: process.env.PATH };
  const { logger, seen } = warnings();
  const notifier = new ServiceNotifier({ env, command, logger });
  assert.equal(notifier.enabled, true);
  assert.equal(env.NOTIFY_SOCKET, undefined, 'children of the daemon do not inherit the socket');

  const before = process.hrtime.bigint() / 1000n;
  notifier.ready('serving');
  notifier.reloading();
  notifier.ready('serving again');
  notifier.stopping();
  await notifier.close();
  await notifier.close();

  assert.deepEqual(
    fake.messages.map((m) => Object.keys(m.vars).join(' ')),
    ['READY STATUS', 'RELOADING MONOTONIC_USEC STATUS', 'READY STATUS', 'STOPPING STATUS'],
    'close() waited for every message, sent in order',
  );
  assert.deepEqual(
    fake.messages.map((m) => m.vars.STATUS),
    ['serving', 'reloading the config', 'serving again', 'stopping'],
  );
  const reloading = fake.messages[1]?.vars ?? {};
  const sentAt = BigInt(reloading.MONOTONIC_USEC ?? '0');
  assert.ok(
    sentAt >= before && sentAt <= BigInt(fake.messages[1]?.receivedAtUsec ?? 0),
    `MONOTONIC_USEC ${sentAt} is CLOCK_MONOTONIC: between ${before} and the manager's receipt`,
  );
  // The manager closes a barrier's descriptor (which lets systemd-notify return) before it reports
  // the barrier on its stdout: the last report can arrive after close() has returned.
  await fake.waitFor('four barriers', () => (fake.barriers >= 4 ? true : undefined), 5000);
  assert.equal(fake.barriers, 4, 'each systemd-notify waited for the manager (no --no-block)');
  assert.deepEqual(
    trace().map((line) => line.split(' ')[0]),
    ['start', 'end', 'start', 'end', 'start', 'end', 'start', 'end'],
    'runs never overlap',
  );
  assert.deepEqual(seen, []);

  notifier.ready('after close');
  assert.equal(trace().length, 8, 'nothing is sent after close()');
});

test('notify: WATCHDOG=1 every WATCHDOG_USEC/2, only for our pid, until stopping', async (t) => {
  const why = unavailable();
  if (why) return t.skip(why);
  const dir = tempDir(t);
  const fake = await manager(t, dir);
  const { logger } = warnings();
  const notifier = new ServiceNotifier({
    env: {
      NOTIFY_SOCKET: fake.socket,
      PATH: process.env.PATH,
      WATCHDOG_USEC: '200000',
      WATCHDOG_PID: String(process.pid),
    },
    logger,
  });
  t.after(() => notifier.close());
  await fake.waitFor(
    'three watchdog pings',
    () => (fake.having('WATCHDOG').length >= 3 ? true : undefined),
    5_000,
  );
  notifier.stopping();
  await fake.waitFor('STOPPING=1', () => (fake.having('STOPPING').length === 1 ? true : undefined));
  const pings = fake.having('WATCHDOG').length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(fake.having('WATCHDOG').length, pings, 'no ping after stopping');
  await notifier.close();

  const other = new ServiceNotifier({
    env: { NOTIFY_SOCKET: fake.socket, PATH: process.env.PATH, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' },
    logger,
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await other.close();
  assert.equal(fake.having('WATCHDOG').length, pings, 'a watchdog meant for another pid is not ours to feed');
});

test('notify: a missing systemd-notify is one warning, the daemon carries on', async (t) => {
  const why = fakeManagerUnavailable();
  if (why) return t.skip(why);
  const dir = tempDir(t);
  const fake = await manager(t, dir);
  const { logger, seen } = warnings();
  const notifier = new ServiceNotifier({
    env: { NOTIFY_SOCKET: fake.socket, PATH: process.env.PATH, WATCHDOG_USEC: '100000' },
    command: join(dir, 'no-such-systemd-notify'),
    logger,
  });
  notifier.ready('serving');
  notifier.reloading();
  await new Promise((resolve) => setTimeout(resolve, 300));
  notifier.stopping();
  await notifier.close();
  assert.equal(seen.length, 1, seen.join('\n'));
  assert.match(seen[0] ?? '', /cannot notify systemd \(.*no-such-systemd-notify is not installed/);
  assert.match(seen[0] ?? '', /Type=exec/);
  assert.deepEqual(fake.messages, []);
});

test('notify: a failing systemd-notify is one warning with its message', async (t) => {
  const dir = tempDir(t);
  const command = join(dir, 'systemd-notify');
  writeFileSync(command, '#!/bin/sh\necho "Failed to notify init system: Connection refused" >&2\nexit 1\n');
  chmodSync(command, 0o755);
  const { logger, seen } = warnings();
  const notifier = new ServiceNotifier({
    env: { NOTIFY_SOCKET: join(dir, 'nobody-listens.sock'), PATH: process.env.PATH },
    command,
    logger,
  });
  notifier.ready('serving');
  notifier.stopping();
  await notifier.close();
  assert.deepEqual(seen.length, 1, seen.join('\n'));
  assert.match(seen[0] ?? '', /exited with 1: Failed to notify init system: Connection refused/);
});

test('notify: without NOTIFY_SOCKET nothing is spawned, watchdog or not', async (t) => {
  const dir = tempDir(t);
  const { command, trace } = tracingNotify(dir);
  const { logger, seen } = warnings();
  const notifier = new ServiceNotifier({
    env: { PATH: process.env.PATH, WATCHDOG_USEC: '20000' },
    command,
    logger,
  });
  assert.equal(notifier.enabled, false);
  notifier.ready('serving');
  notifier.reloading();
  notifier.ready('serving');
  await new Promise((resolve) => setTimeout(resolve, 100));
  notifier.stopping();
  await notifier.close();
  assert.deepEqual(trace(), []);
  assert.deepEqual(seen, []);
});
