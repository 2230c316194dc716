import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { type AgentConfig, loadConfig } from '../config/index.ts';
import { isOutpostError } from '../errors.ts';
import {
  COMMAND_JOURNAL_FILE,
  type FleetClient,
  FleetController,
  type FleetHost,
  layRemoteConfig,
  loadEffectiveConfig,
  UPGRADE_EXIT_CODE,
} from './index.ts';
import { readRemoteConfig, writeRemoteConfig } from './remote-config.ts';

const logger = pino({ level: 'silent' });

function dirFor(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-fleet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `collector:\n  url: http://127.0.0.1:1\nagent:\n  state_dir: ${join(dir, 'state')}\n  labels:\n    role: web\ninputs:\n  system:\n    interval: 5s\n`,
  );
  return { dir, file, stateDir: join(dir, 'state') };
}

test('remote config: laid over the host file, lists replace, mappings merge', async (t) => {
  const { file } = dirFor(t);
  const local = await loadConfig({ path: file, env: {} });
  const merged = await layRemoteConfig(
    local,
    'agent:\n  labels:\n    tier: gold\ninputs:\n  system:\n    metrics: [cpu]\n',
    '7',
    {},
  );
  assert.deepEqual(merged.config.agent.labels, { role: 'web', tier: 'gold' });
  assert.deepEqual(merged.config.inputs.system.metrics, ['cpu']);
  assert.equal(merged.config.inputs.system.interval, 5000, 'kept from the host file');
  assert.equal(merged.config.collector.url, 'http://127.0.0.1:1');
  assert.equal(merged.path, file);
  assert.notEqual(merged.version, local.version);
});

test('remote config: local-only keys, bad YAML and bad values are refused with where and why', async (t) => {
  const { file } = dirFor(t);
  const local = await loadConfig({ path: file, env: {} });
  const refused = async (yaml: string, code: string, message: RegExp) => {
    await assert.rejects(layRemoteConfig(local, yaml, '9', {}), (err) => {
      assert.ok(isOutpostError(err, code), String(err));
      assert.match(err.message, message);
      return true;
    });
  };
  await refused(
    'collector:\n  url: http://evil\n',
    'E_REMOTE_CONFIG_INVALID',
    /^remote config 9: "collector" cannot be set remotely/,
  );
  await refused('agent:\n  state_dir: /tmp\n', 'E_REMOTE_CONFIG_INVALID', /"agent\.state_dir" cannot be set/);
  await refused('agent: 3\n', 'E_REMOTE_CONFIG_INVALID', /"agent" cannot be set/);
  await refused('fleet:\n  commands: true\n', 'E_REMOTE_CONFIG_INVALID', /"fleet" cannot be set/);
  await refused('[1, 2]\n', 'E_REMOTE_CONFIG_INVALID', /expected a mapping/);
  await refused('a: [\n', 'E_REMOTE_CONFIG_INVALID', /not valid YAML/);
  await refused(
    'queue:\n  policy: sometimes\n',
    'E_CONFIG_INVALID',
    /^remote config 9:2:11: queue\.policy: expected one of/,
  );
});

test('remote config: a stored one that no longer fits is set aside at load, with the reason', async (t) => {
  const { file, stateDir } = dirFor(t);
  writeRemoteConfig(stateDir, { version: '3', yaml: 'log:\n  level: debug\n', receivedAt: 1 });
  const good = await loadEffectiveConfig({ path: file, env: {} });
  assert.equal(good.remoteVersion, '3');
  assert.equal(good.loaded.config.log.level, 'debug');
  writeRemoteConfig(stateDir, { version: '4', yaml: 'log:\n  level: loud\n', receivedAt: 2 });
  const bad = await loadEffectiveConfig({ path: file, env: {} });
  assert.equal(bad.remoteVersion, null);
  assert.equal(bad.remoteError?.version, '4');
  assert.equal(bad.loaded.config.log.level, 'info', 'the host file alone');
  writeFileSync(join(stateDir, 'remote-config.json'), '{ nope');
  const damaged = await loadEffectiveConfig({ path: file, env: {} });
  assert.equal(damaged.remoteError?.code, 'E_STATE_FILE_INVALID');
});

/** A collector answering from a script: what the controller fetched and reported is recorded. */
function scriptedClient(
  config: { version: string | null; yaml: string | null } = { version: null, yaml: null },
) {
  const reported: Array<{ path: string; body: unknown }> = [];
  let failReports = false;
  return {
    reported,
    failReports(on: boolean) {
      failReports = on;
    },
    async request(method: 'GET' | 'POST', path: string, body?: unknown) {
      if (method === 'GET' && path === '/api/v1/agent/config') return config;
      if (method === 'POST') {
        if (failReports) throw new Error('connection reset');
        reported.push({ path, body });
        return { recorded: true };
      }
      throw new Error(`unexpected ${method} ${path}`);
    },
    async download(): Promise<Buffer> {
      throw new Error('no plugins here');
    },
  };
}

function hostFor(file: string, config: AgentConfig, calls: string[], exits: number[]): FleetHost {
  return {
    config: () => config,
    reload: async () => {
      calls.push('reload');
      return { applied: true, configVersion: 'sha256:x', needsRestart: [] };
    },
    flush: async () => {
      calls.push('flush');
      return { sent: 3, remaining: 0 };
    },
    plugins: () => null,
    configPath: () => file,
    env: () => ({}),
    remoteConfig: () => ({ version: null, error: null }),
    exit: (code) => exits.push(code),
  };
}

function controllerFor(host: FleetHost, client: FleetClient, stateDir: string): FleetController {
  return new FleetController({ host, client: () => client, stateDir, logger });
}

/** Polls a condition the controller meets off the caller's path (it works after onHeartbeatAnswer returns). */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; !check(); i++) {
    assert.ok(i < 1000, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function settle(
  controller: FleetController,
  answer: Parameters<FleetController['onHeartbeatAnswer']>[0],
) {
  controller.onHeartbeatAnswer(answer);
  await controller.close();
}

test('fleet controller: a command delivered again is reported again, never run twice, even after a restart', async (t) => {
  const { file, stateDir } = dirFor(t);
  const { config } = await loadConfig({ path: file, env: {} });
  const calls: string[] = [];
  const client = scriptedClient();
  const answer = {
    serverTime: 1,
    commands: [
      { id: 'cmd_1', type: 'flush', args: {} },
      { id: 'cmd_2', type: 'restart-plugin', args: { name: 'x' } },
      { id: 'cmd_3', type: 'warp-drive', args: {} },
    ],
  };
  client.failReports(true);
  const first = controllerFor(hostFor(file, config, calls, []), client, stateDir);
  await settle(first, answer);
  assert.deepEqual(calls, ['flush']);
  assert.equal(client.reported.length, 0, 'the results did not get through');

  // A new process: same state dir, the collector delivers the same commands again.
  client.failReports(false);
  const second = controllerFor(hostFor(file, config, calls, []), client, stateDir);
  await settle(second, answer);
  assert.deepEqual(calls, ['flush'], 'not run a second time');
  assert.deepEqual(
    client.reported.map((r) => [r.path, (r.body as { status: string; message: string }).status]),
    [
      ['/api/v1/agent/commands/cmd_1/result', 'succeeded'],
      ['/api/v1/agent/commands/cmd_2/result', 'failed'],
      ['/api/v1/agent/commands/cmd_3/result', 'failed'],
    ],
  );
  const messages = client.reported.map((r) => (r.body as { message: string }).message);
  assert.match(messages[0]!, /^sent 3 records, 0 still queued$/);
  assert.match(messages[1]!, /plugins are not available/);
  assert.match(messages[2]!, /unknown command "warp-drive"/);
  const journal = JSON.parse(readFileSync(join(stateDir, COMMAND_JOURNAL_FILE), 'utf8')) as unknown[];
  assert.equal(journal.length, 3);
});

test('fleet controller: a command the agent died in is not run again; stop exits after reporting', async (t) => {
  const { file, stateDir } = dirFor(t);
  const { config } = await loadConfig({ path: file, env: {} });
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(
    join(stateDir, COMMAND_JOURNAL_FILE),
    JSON.stringify([{ id: 'cmd_r', type: 'reload', startedAt: 1, result: null }]),
  );
  const calls: string[] = [];
  const exits: number[] = [];
  const client = scriptedClient();
  const controller = controllerFor(hostFor(file, config, calls, exits), client, stateDir);
  await settle(controller, {
    serverTime: 1,
    commands: [
      { id: 'cmd_r', type: 'reload', args: {} },
      { id: 'cmd_s', type: 'stop', args: {} },
      { id: 'cmd_after', type: 'flush', args: {} },
    ],
  });
  assert.deepEqual(calls, [], 'neither the interrupted reload nor anything after stop ran');
  assert.deepEqual(exits, [0]);
  assert.deepEqual(
    client.reported.map((r) => [r.path.split('/')[5], (r.body as { status: string }).status]),
    [
      ['cmd_r', 'failed'],
      ['cmd_s', 'succeeded'],
    ],
  );
  assert.match((client.reported[0]!.body as { message: string }).message, /stopped while this command ran/);
});

test('fleet controller: a desired config the agent cannot load is refused once and reported', async (t) => {
  const { file, stateDir } = dirFor(t);
  const { config } = await loadConfig({ path: file, env: {} });
  const calls: string[] = [];
  const client = scriptedClient({ version: '12', yaml: 'inputs:\n  system:\n    interval: soon\n' });
  const controller = controllerFor(hostFor(file, config, calls, []), client, stateDir);
  await settle(controller, { serverTime: 1, desiredConfigVersion: '12', commands: [] });
  assert.deepEqual(calls, [], 'no reload for a refused config');
  const status = controller.status().remoteConfig;
  assert.equal(status.version, null);
  assert.equal(status.error?.version, '12');
  assert.match(status.error!.message, /^remote config 12:3:15: inputs\.system\.interval/);
  assert.throws(() => readFileSync(join(stateDir, 'remote-config.json')), { code: 'ENOENT' });
});

test('fleet controller: a refused config is not fetched again, but the same document as a new version is', async (t) => {
  const { file, stateDir } = dirFor(t);
  const { config } = await loadConfig({ path: file, env: {} });
  const calls: string[] = [];
  const env: NodeJS.ProcessEnv = {};
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the agent's config interpolation
  const served = { version: '12', yaml: 'log:\n  level: ${OUTPOST_TEST_LEVEL}\n' };
  const scripted = scriptedClient(served);
  let fetches = 0;
  const client = {
    ...scripted,
    request: (method: 'GET' | 'POST', path: string, body?: unknown) => {
      if (path === '/api/v1/agent/config') fetches += 1;
      return scripted.request(method, path, body);
    },
  };
  const controller = controllerFor(
    {
      ...hostFor(file, config, calls, []),
      env: () => env,
      remoteConfig: () => ({ version: readRemoteConfig(stateDir)?.version ?? null, error: null }),
    },
    client,
    stateDir,
  );
  t.after(() => controller.close());
  let answers = 0;
  /** What one heartbeat answer made the controller do: config fetches and reloads. */
  const answered = async (desired: string) => {
    const before = { fetches, reloads: calls.filter((c) => c === 'reload').length };
    const marker = `cmd_${++answers}`;
    // Commands run after the config sync of the same answer: the marker's result means it is done.
    controller.onHeartbeatAnswer({
      serverTime: 1,
      desiredConfigVersion: desired,
      commands: [{ id: marker, type: 'flush', args: {} }],
    });
    await until(`the result of ${marker}`, () =>
      scripted.reported.some((r) => r.path.includes(`/${marker}/`)),
    );
    return {
      fetches: fetches - before.fetches,
      reloads: calls.filter((c) => c === 'reload').length - before.reloads,
    };
  };

  assert.deepEqual(await answered('12'), { fetches: 1, reloads: 0 });
  assert.match(controller.status().remoteConfig.error!.message, /OUTPOST_TEST_LEVEL is not set/);
  env.OUTPOST_TEST_LEVEL = 'debug';
  assert.deepEqual(
    await answered('12'),
    { fetches: 0, reloads: 0 },
    'a refused version is not fetched again',
  );
  assert.equal(controller.status().remoteConfig.error?.version, '12');

  // What `outpost-collector config retry` makes: the same document under a new version.
  served.version = '13';
  assert.deepEqual(await answered('13'), { fetches: 1, reloads: 1 }, 'fetched and applied by a reload');
  assert.deepEqual(controller.status().remoteConfig, { version: '13', error: null });
  assert.equal(readRemoteConfig(stateDir)?.yaml, served.yaml);
});

/** Delivers an upgrade to a controller whose host runs `command`; answers once its result is reported. */
async function upgradeWith(t: TestContext, command: string, version: string) {
  const { dir, stateDir } = dirFor(t);
  const file = join(dir, 'upgrade.yaml');
  writeFileSync(file, `agent:\n  state_dir: ${stateDir}\nfleet:\n  upgrade_command: ${command}\n`);
  const { config } = await loadConfig({ path: file, env: {} });
  const exits: number[] = [];
  const client = scriptedClient();
  const controller = controllerFor(hostFor(file, config, [], exits), client, stateDir);
  t.after(() => controller.close());
  controller.onHeartbeatAnswer({
    serverTime: 1,
    commands: [{ id: 'cmd_u', type: 'upgrade', args: { version } }],
  });
  await until('the upgrade result', () => client.reported.length > 0);
  const body = client.reported[0]!.body as {
    status: string;
    message: string;
    data: { output: string; instanceId?: string };
  };
  return { controller, exits, body };
}

test('fleet controller: a failing upgrade command is reported with its output and the agent stays', async (t) => {
  const { controller, exits, body } = await upgradeWith(
    t,
    'echo "no such version $OUTPOST_UPGRADE_VERSION" >&2; exit 3',
    '9.9.9',
  );
  await controller.close();
  assert.equal(body.status, 'failed');
  assert.equal(body.message, 'upgrade command exited with 3; the agent keeps running: no such version 9.9.9');
  assert.deepEqual(exits, []);
});

test('fleet controller: a done upgrade names this process in its result, then exits 75', async (t) => {
  const { controller, exits, body } = await upgradeWith(
    t,
    'echo "installed $OUTPOST_UPGRADE_VERSION"',
    '0.2.0',
  );
  await until('the agent to exit', () => exits.length > 0);
  assert.deepEqual(exits, [UPGRADE_EXIT_CODE]);
  assert.equal(body.status, 'awaiting_verification');
  assert.equal(body.data.output, 'installed 0.2.0');
  // The heartbeat carries the same id: the collector waits for one from another process.
  assert.equal(body.data.instanceId, controller.status().instanceId);
  assert.match(body.data.instanceId!, /^[0-9a-f-]{36}$/);
});
