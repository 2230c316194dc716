/**
 * systemd Type=notify, end to end: a real agent and a real collector started as systemd starts a
 * Type=notify unit (NOTIFY_SOCKET, WATCHDOG_USEC) tell a service manager, bound by python3 to a
 * unix datagram socket, that they serve, are alive, reload and stop.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FakeServiceManager,
  fakeManagerUnavailable,
  type NotifyMessage,
} from '../../packages/service/test/fake-service-manager.ts';
import { agentYaml, startAgent, startCollector, tempDir } from './harness.ts';

/** GET on the agent's control socket: the HTTP status, or the connection error. */
function controlStatus(socketPath: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/v1/status', timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => resolve(String(err)));
    req.end();
  });
}

function after(messages: NotifyMessage[], name: string, previous?: NotifyMessage): NotifyMessage | undefined {
  const from = previous === undefined ? 0 : messages.indexOf(previous) + 1;
  return messages.slice(from).find((message) => message.vars[name] === '1');
}

test('service notify: agent and collector report ready, watchdog, reloading and stopping to systemd', async (t) => {
  const python = fakeManagerUnavailable();
  if (python) return t.skip(python);
  const realNotify = spawnSync('sh', ['-c', 'command -v systemd-notify'], { encoding: 'utf8' }).stdout.trim();
  if (realNotify === '') return t.skip('systemd-notify is not installed');

  using dir = tempDir('notify');
  mkdirSync(join(dir.path, 'agent-manager'));
  mkdirSync(join(dir.path, 'collector-manager'));
  const agentManager = await FakeServiceManager.start(join(dir.path, 'agent-manager'));
  t.after(() => agentManager.close());
  const collectorManager = await FakeServiceManager.start(join(dir.path, 'collector-manager'));
  t.after(() => collectorManager.close());

  // First on PATH: records which daemon ran it (its parent), then is the real systemd-notify.
  const bin = join(dir.path, 'bin');
  mkdirSync(bin);
  const runs = join(dir.path, 'runs.log');
  writeFileSync(
    join(bin, 'systemd-notify'),
    `#!/bin/sh\necho "$PPID $*" >> '${runs}'\nexec '${realNotify}' "$@"\n`,
  );
  chmodSync(join(bin, 'systemd-notify'), 0o755);
  const daemonEnv = { PATH: `${bin}:${process.env.PATH}`, WATCHDOG_USEC: '1000000' };

  // A collector not started by systemd: the same environment without NOTIFY_SOCKET.
  const [collector, unmanaged] = await Promise.all([
    startCollector(join(dir.path, 'collector'), '127.0.0.1:0', [], {
      ...daemonEnv,
      NOTIFY_SOCKET: collectorManager.socket,
    }),
    startCollector(join(dir.path, 'unmanaged'), '127.0.0.1:0', [], {
      ...daemonEnv,
      NOTIFY_SOCKET: undefined,
    }),
  ]);
  t.after(() => collector.proc.stop('SIGKILL'));
  t.after(() => unmanaged.proc.stop('SIGKILL'));

  const collectorReady = await collectorManager.waitFor('collector READY=1', (m) => after(m, 'READY'));
  assert.equal(collectorReady.vars.STATUS, `listening on ${collector.url}`);
  assert.equal((await fetch(`${collector.url}/healthz`)).status, 200, 'READY=1 came once it listens');

  const stateDir = join(dir.path, 'agent-state');
  const agentStarting = startAgent(dir.path, agentYaml({ url: collector.url, stateDir, inputs: false }), {
    ...daemonEnv,
    NOTIFY_SOCKET: agentManager.socket,
    OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
  });
  const agentReady = await agentManager.waitFor('agent READY=1', (m) => after(m, 'READY'));
  const socket = /control socket (\S+)$/.exec(agentReady.vars.STATUS ?? '')?.[1] ?? '';
  assert.equal(socket, join(stateDir, 'agent.sock'), agentReady.text);
  assert.equal(await controlStatus(socket), 200, 'READY=1 came once the control socket answers');
  const agent = await agentStarting;
  t.after(() => agent.proc.stop('SIGKILL'));

  // WATCHDOG_USEC 1 s: a ping every 500 ms from each.
  for (const manager of [agentManager, collectorManager]) {
    await manager.waitFor('three WATCHDOG=1', (m) =>
      m.filter((x) => x.vars.WATCHDOG === '1').length >= 3 ? true : undefined,
    );
  }

  agent.proc.child.kill('SIGHUP');
  const reloading = await agentManager.waitFor('RELOADING=1 on SIGHUP', (m) =>
    after(m, 'RELOADING', agentReady),
  );
  assert.match(reloading.vars.MONOTONIC_USEC ?? '', /^\d+$/);
  assert.ok(
    Number(reloading.vars.MONOTONIC_USEC) <= reloading.receivedAtUsec,
    'MONOTONIC_USEC is CLOCK_MONOTONIC',
  );
  const reloaded = await agentManager.waitFor('READY=1 after the reload', (m) =>
    after(m, 'READY', reloading),
  );
  assert.match(reloaded.vars.STATUS ?? '', /^running config /);

  assert.deepEqual(await agent.proc.stop('SIGTERM'), { code: 0, signal: null });
  const agentStopping = after(agentManager.messages, 'STOPPING', reloaded);
  assert.ok(
    agentStopping,
    `STOPPING=1 before the agent exited: ${JSON.stringify(agentManager.messages.map((m) => m.text))}`,
  );
  assert.deepEqual(await collector.proc.stop('SIGTERM'), { code: 0, signal: null });
  assert.ok(after(collectorManager.messages, 'STOPPING', collectorReady), 'the collector said STOPPING=1');

  assert.deepEqual(await unmanaged.proc.stop('SIGTERM'), { code: 0, signal: null });
  const runLog = existsSync(runs) ? readFileSync(runs, 'utf8').trim().split('\n') : [];
  const by = (pid: number | undefined) => runLog.filter((line) => line.startsWith(`${pid} `));
  assert.ok(by(agent.proc.child.pid).length >= 5, `the probe sees the agent's runs: ${runLog.join('\n')}`);
  assert.ok(by(collector.proc.child.pid).length >= 4, "and the collector's");
  assert.deepEqual(by(unmanaged.proc.child.pid), [], 'without NOTIFY_SOCKET nothing is spawned');
});
