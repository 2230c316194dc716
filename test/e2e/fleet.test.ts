import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, type RunningAgent, startAgent, startCollector, tempDir, waitFor } from './harness.ts';

interface AgentView {
  id: string;
  hostname: string;
  state: string;
  reasons: string[];
  heartbeat: {
    remoteConfig: { version: string | null; error: { version: string; message: string } | null };
  } | null;
}

interface CommandView {
  id: string;
  status: string;
  result: { message: string } | null;
}

test('fleet: enrol with tokens, push and roll back configs, run commands, revoke', async (t) => {
  using dir = tempDir('fleet');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));

  const call = async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    auth = `Bearer ${collector.adminToken}`,
  ): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${collector.url}${path}`, {
      method,
      headers: {
        authorization: auth,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  };
  const agentById = async (id: string) => (await call<AgentView>('GET', `/api/v1/agents/${id}`)).json;

  const marker = join(dir.path, 'upgrades.log');
  const yamlFor = (name: string, labels: Record<string, string>, extra = '', plugins = false) => `collector:
  url: ${collector.url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
agent:
  state_dir: ${join(dir.path, name, 'state')}
  hostname: ${name}
  labels:
${Object.entries(labels)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join('\n')}
inputs:
  system:
    enabled: false
  processes:
    enabled: false
send:
  batch_max_wait: 200ms
heartbeat:
  interval: 1s
plugins:
  enabled: ${plugins}
${extra}`;
  // Each process is stopped however the test ends: one left running keeps the test file from exiting.
  const launch = async (name: string, yaml: string, token: string): Promise<RunningAgent> => {
    mkdirSync(join(dir.path, name), { recursive: true });
    const agent = await startAgent(join(dir.path, name), yaml, { OUTPOST_ENROLLMENT_TOKEN: token });
    t.after(() => agent.proc.stop('SIGKILL'));
    return agent;
  };

  const agents: Partial<Record<'a' | 'b' | 'c', RunningAgent>> = {};
  const ids: Partial<Record<'a' | 'b' | 'c', string>> = {};
  const yamls: Partial<Record<'a', string>> = {};
  const tokens: Partial<Record<'a', string>> = {};

  await t.test('admin tokens: one use, expiry, and the config token keeps working', async () => {
    const once = await call<{ token: string; id: string }>('POST', '/api/v1/enrollment-tokens', {
      description: 'web-a only',
      maxUses: 1,
    });
    assert.equal(once.status, 201);
    const short = await call<{ token: string; id: string }>('POST', '/api/v1/enrollment-tokens', {
      ttlMs: 1000,
    });
    const register = (token: string) =>
      call(
        'POST',
        '/api/v1/agent/register',
        { enrollmentToken: token, hostname: 'intruder', version: '0.1.0' },
        '',
      );

    const yamlA = yamlFor(
      'web-a',
      { role: 'web' },
      `fleet:\n  upgrade_command: echo "ran $OUTPOST_UPGRADE_VERSION" >> ${marker}\n`,
      true,
    );
    agents.a = await launch('web-a', yamlA, once.json.token);
    yamls.a = yamlA;
    tokens.a = once.json.token;
    agents.b = await launch('web-b', yamlFor('web-b', { role: 'web' }), collector.enrollmentToken);
    agents.c = await launch('db-c', yamlFor('db-c', { role: 'db' }), collector.enrollmentToken);
    for (const key of ['a', 'b', 'c'] as const) {
      ids[key] = await waitFor(`agent ${key} registered`, () => {
        try {
          return JSON.parse(readFileSync(join(agents[key]!.stateDir, 'identity.json'), 'utf8'))
            .agentId as string;
        } catch {
          return undefined;
        }
      });
    }

    const usedUp = await register(once.json.token);
    assert.equal(usedUp.status, 401);
    assert.match(JSON.stringify(usedUp.json), /E_ENROLLMENT_TOKEN_INVALID.*has no uses left/);
    await waitFor('the short token to expire', async () => {
      const { json } = await call<{ tokens: Array<{ id: string; state: string }> }>(
        'GET',
        '/api/v1/enrollment-tokens',
      );
      return json.tokens.find((x) => x.id === short.json.id && x.state === 'expired');
    });
    const expired = await register(short.json.token);
    assert.equal(expired.status, 401);
    assert.match(JSON.stringify(expired.json), /has expired/);
    const { json } = await call<{ agents: AgentView[] }>('GET', '/api/v1/agents');
    assert.deepEqual(json.agents.map((a) => a.hostname).sort(), ['db-c', 'web-a', 'web-b']);
  });

  const remoteVersion = (id: string, version: string) =>
    waitFor(`agent ${id} to report remote config ${version}`, async () => {
      const view = await agentById(id);
      return view.heartbeat?.remoteConfig.version === version ? view : undefined;
    });
  const labelsOf = async (agent: RunningAgent) => {
    const status = await agentctl(['status', '--json', '--socket', agent.socket]);
    return (JSON.parse(status.stdout) as { agent: { labels: Record<string, string> } }).agent.labels;
  };

  await t.test(
    'a config pushed to a label selector is applied without a restart; others keep theirs',
    async () => {
      const pushed = await call<{ version: number }>('POST', '/api/v1/configs', {
        target: { labels: { role: 'web' } },
        yaml: 'agent:\n  labels:\n    pushed: "one"\n',
        comment: 'first',
      });
      assert.equal(pushed.status, 201);
      const v1 = String(pushed.json.version);
      await remoteVersion(ids.a!, v1);
      await remoteVersion(ids.b!, v1);
      assert.deepEqual(await labelsOf(agents.b!), { role: 'web', pushed: 'one' });
      assert.equal((await agentById(ids.c!)).heartbeat?.remoteConfig.version, null);
      assert.equal(agents.b!.proc.child.exitCode, null, 'applied by a reload, not a restart');
    },
  );

  await t.test('a config the agent cannot load is refused and the old one stays', async () => {
    const bad = await call<{ version: number }>('POST', '/api/v1/configs', {
      target: { agent: ids.a },
      yaml: 'inputs:\n  system:\n    interval: banana\n',
    });
    assert.equal(bad.status, 201, 'valid YAML: only the agent can tell');
    const view = await waitFor('agent a to report the refusal', async () => {
      const v = await agentById(ids.a!);
      return v.heartbeat?.remoteConfig.error?.version === String(bad.json.version) ? v : undefined;
    });
    assert.match(
      view.heartbeat!.remoteConfig.error!.message,
      /remote config \d+:3:15: inputs\.system\.interval: expected a duration/,
    );
    assert.equal(view.state, 'degraded');
    assert.match(view.reasons.join(), /refused/);
    assert.ok(view.heartbeat?.remoteConfig.version !== String(bad.json.version));
    assert.equal((await labelsOf(agents.a!)).pushed, 'one');

    const local = await call('POST', '/api/v1/configs', {
      target: { agent: ids.a },
      yaml: 'collector:\n  url: http://elsewhere:1\n',
    });
    assert.equal(local.status, 400);
    assert.match(
      (local.json as { error: { message: string } }).error.message,
      /"collector" cannot be set remotely/,
    );
    const removed = await call<{ version: number }>('POST', '/api/v1/configs', {
      target: { agent: ids.a },
      yaml: null,
    });
    assert.equal(removed.status, 201);
  });

  await t.test('rolling back a selector brings the old document back as a new version', async () => {
    const v2 = await call<{ version: number }>('POST', '/api/v1/configs', {
      target: { labels: { role: 'web' } },
      yaml: 'agent:\n  labels:\n    pushed: "two"\n',
    });
    await remoteVersion(ids.b!, String(v2.json.version));
    assert.equal((await labelsOf(agents.b!)).pushed, 'two');
    const back = await call<{ version: number; rollbackOf: number }>('POST', '/api/v1/configs/rollback', {
      target: { labels: { role: 'web' } },
    });
    assert.equal(back.status, 201);
    assert.ok(back.json.rollbackOf < v2.json.version);
    await remoteVersion(ids.b!, String(back.json.version));
    await remoteVersion(ids.a!, String(back.json.version));
    assert.equal((await labelsOf(agents.b!)).pushed, 'one');
    const history = await call<{ versions: Array<{ version: number }> }>(
      'GET',
      '/api/v1/configs/history?labels=role%3Dweb',
    );
    assert.deepEqual(
      history.json.versions.map((v) => v.version),
      [back.json.version, v2.json.version, back.json.rollbackOf],
    );
  });

  const send = async (key: 'a' | 'b' | 'c', type: string, args: Record<string, unknown> = {}) => {
    const sent = await call<CommandView>('POST', `/api/v1/agents/${ids[key]}/commands`, { type, args });
    assert.equal(sent.status, 201, JSON.stringify(sent.json));
    return sent.json.id;
  };
  const settled = (id: string, status = /succeeded|failed/) =>
    waitFor(`command ${id} to settle`, async () => {
      const { json } = await call<CommandView>('GET', `/api/v1/commands/${id}`);
      return status.test(json.status) ? json : undefined;
    });

  await t.test('a remote config the agent cannot start with is set aside, not restarted into', async () => {
    // The collector's own port: taken, so binding metrics.listen there fails.
    const taken = new URL(collector.url).port;
    const pushed = await call<{ version: number }>('POST', '/api/v1/configs', {
      target: { agent: ids.b },
      yaml: `metrics:\n  listen: 127.0.0.1:${taken}\n`,
    });
    // A reload survives a taken port (the rest applies), so the version is taken.
    await remoteVersion(ids.b!, String(pushed.json.version));
    await agents.b!.proc.stop();
    const yamlB = yamlFor('web-b', { role: 'web' });
    await assert.rejects(launch('web-b', yamlB, collector.enrollmentToken), /exited with 1/);
    agents.b = await launch('web-b', yamlB, collector.enrollmentToken);
    await remoteVersion(ids.b!, String(pushed.json.version));
    await call('POST', '/api/v1/configs', { target: { agent: ids.b }, yaml: null });
  });

  await t.test(
    'a plugin rolls out from the store, upgrades, refuses a version that does not load, rolls back',
    async () => {
      const project = join(dir.path, 'hello-edge');
      assert.equal((await agentctl(['plugin', 'new', project])).code, 0);
      const pack = async (version: string, build = true) => {
        const manifestPath = join(project, 'outpost-plugin.json');
        const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
        writeFileSync(manifestPath, JSON.stringify({ ...manifest, version }, null, 2));
        const out = await agentctl(['plugin', 'pack', project, '--json', ...(build ? [] : ['--no-build'])]);
        assert.equal(out.code, 0, out.stderr);
        const res = await fetch(`${collector.url}/api/v1/plugin/store`, {
          method: 'POST',
          headers: { authorization: `Bearer ${collector.adminToken}`, 'content-type': 'application/gzip' },
          body: readFileSync((JSON.parse(out.stdout) as { file: string }).file),
        });
        assert.equal(res.status, 201, await res.clone().text());
        return (await res.json()) as { sha256: string };
      };
      await pack('0.1.0');
      await pack('0.2.0');
      // Builds fine, throws as soon as the sandbox loads it.
      writeFileSync(join(project, 'dist', 'index.js'), 'throw new Error("broken on purpose");\n');
      await pack('0.3.0', false);

      const assign = async (version: string) => {
        const answer = await call('PUT', '/api/v1/plugin/config', {
          target: { agent: ids.a },
          name: 'hello-edge',
          version,
          config: { greeting: `v${version}` },
        });
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
      };
      const running = (version: string) =>
        waitFor(`hello-edge@${version} running on agent a`, async () => {
          const view = await agentById(ids.a!);
          const plugins = (
            view.heartbeat as unknown as { plugins: Array<{ name: string; version: string; state: string }> }
          ).plugins;
          return plugins.some(
            (p) => p.name === 'hello-edge' && p.version === version && p.state === 'running',
          )
            ? view
            : undefined;
        });
      await assign('0.1.0');
      await running('0.1.0');
      await assign('0.2.0');
      await running('0.2.0');
      const versions = await call<{
        versions: Array<{ version: string; agents: Array<{ agentId: string }> }>;
      }>('GET', '/api/v1/plugin/version?name=hello-edge');
      assert.deepEqual(
        versions.json.versions.map((v) => [v.version, v.agents.map((a) => a.agentId)]),
        [
          ['0.1.0', []],
          ['0.2.0', [ids.a]],
          ['0.3.0', []],
        ],
      );

      await assign('0.3.0');
      const refused = await waitFor('agent a to refuse 0.3.0', async () => {
        const view = await agentById(ids.a!);
        return view.reasons.some((r) => r.includes('hello-edge@0.3.0 refused')) ? view : undefined;
      });
      assert.equal(refused.state, 'degraded');
      assert.match(refused.reasons.join(), /does not load .*; 0\.2\.0 runs again/);
      await running('0.2.0');

      await assign('0.1.0');
      const back = await running('0.1.0');
      assert.equal(back.state, 'online');
      const shown = await agentctl([
        'plugin',
        'config',
        'show',
        'hello-edge',
        '--json',
        '--socket',
        agents.a!.socket,
      ]);
      assert.deepEqual((JSON.parse(shown.stdout) as { config: unknown }).config, { greeting: 'v0.1.0' });
    },
  );

  await t.test('commands run once each and report their results', async () => {
    const reload = await settled(await send('b', 'reload'));
    assert.equal(reload.status, 'succeeded');
    const flush = await settled(await send('b', 'flush'));
    assert.match(flush.result!.message, /^sent \d+ records, 0 still queued$/);
    const plugin = await settled(await send('b', 'restart-plugin', { name: 'cpu-extra' }));
    assert.equal(plugin.status, 'failed');
    assert.match(plugin.result!.message, /plugins are not available/);
    for (const [type, state] of [
      ['stop-plugin', 'disabled'],
      // A loaded sandbox answers "running"; on a busy machine the load may still be under way.
      ['start-plugin', 'running|starting'],
      ['restart-plugin', 'running|starting'],
    ]) {
      const done = await settled(await send('a', type!, { name: 'hello-edge' }));
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.match(done.result!.message, new RegExp(`^plugin hello-edge \\w+ \\((${state})\\)$`));
    }
    const noUpgrade = await settled(await send('c', 'upgrade', { version: '0.1.0' }));
    assert.equal(noUpgrade.status, 'failed');
    assert.match(noUpgrade.result!.message, /fleet\.upgrade_command/);

    const upgradeId = await send('a', 'upgrade', { version: '0.1.0' });
    const exited = await agents.a!.proc.exited;
    assert.equal(exited.code, 75, 'exits non-zero so the service manager restarts it');
    assert.equal((await settled(upgradeId, /awaiting_verification/)).status, 'awaiting_verification');
    // What systemd would do: start it again; the next heartbeat verifies the version.
    agents.a = await launch('web-a', yamls.a!, tokens.a!);
    const verified = await settled(upgradeId);
    assert.equal(verified.status, 'succeeded');
    assert.match(verified.result!.message, /version 0\.1\.0/);
    assert.equal(readFileSync(marker, 'utf8'), 'ran 0.1.0\n', 'the upgrade command ran exactly once');

    const stop = await settled(await send('c', 'stop'));
    assert.equal(stop.status, 'succeeded');
    assert.equal((await agents.c!.proc.exited).code, 0);
  });

  await t.test('a restarted agent keeps its id; a revoked one is shut out at once', async () => {
    assert.equal(JSON.parse(readFileSync(join(agents.a!.stateDir, 'identity.json'), 'utf8')).agentId, ids.a);
    const identity = JSON.parse(readFileSync(join(agents.b!.stateDir, 'identity.json'), 'utf8')) as {
      agentId: string;
      secret: string;
    };
    const heartbeat = () =>
      call(
        'POST',
        '/api/v1/agent/heartbeat',
        { version: '0.1.0' },
        `Bearer ${identity.agentId}.${identity.secret}`,
      );
    assert.equal((await heartbeat()).status, 200);
    const revoked = await call('POST', `/api/v1/agents/${ids.b}/revoke`);
    assert.deepEqual(revoked.json, { revoked: true });
    assert.equal((await heartbeat()).status, 401);
    assert.equal((await agentById(ids.b!)).state, 'revoked');
    await agents.b!.proc.logLine('registration failed; retrying');
    assert.match(agents.b!.proc.lines.join('\n'), /E_AGENT_REVOKED/);
    const { json } = await call<{ agents: AgentView[] }>('GET', '/api/v1/agents');
    assert.equal(json.agents.length, 3, 'the revoked host did not come back under a new id');
  });
});
