import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tar from 'tar';
import { compress } from 'zstd-napi';
import { type Agent, eventually, type Session, startSession } from './session.ts';

async function session(t: { after: (fn: () => Promise<void>) => void }, values = {}): Promise<Session> {
  const s = await startSession(values);
  t.after(() => s.close());
  return s;
}

const heartbeat = (s: Session, agent: Agent, extra: Record<string, unknown> = {}, headers = {}) =>
  s.request('POST', '/api/v1/agent/heartbeat', {
    auth: agent.auth,
    body: {
      version: '0.1.0',
      uptimeSec: 1,
      queue: { depth: 0, bytes: 0, dropped: 0, deadLetter: 0 },
      ...extra,
    },
    headers,
  });

test('fleet api: admin enrollment tokens register agents until they expire, run out or are revoked', async (t) => {
  const s = await session(t);
  const created = await s.request('POST', '/api/v1/enrollment-tokens', {
    auth: s.admin,
    body: { description: 'rack 4', maxUses: 2 },
  });
  assert.equal(created.status, 201);
  assert.match(created.json.token, /^enr_[0-9a-f]{16}\.\S+$/);
  const register = (token: string, hostname = 'web-1') =>
    s.request('POST', '/api/v1/agent/register', {
      body: { enrollmentToken: token, hostname, version: '0.1.0' },
    });
  assert.equal((await register(created.json.token, 'a')).status, 200);
  assert.equal((await register(created.json.token, 'b')).status, 200);
  const third = await register(created.json.token, 'c');
  assert.equal(third.status, 401);
  assert.equal(third.json.error.code, 'E_ENROLLMENT_TOKEN_INVALID');
  assert.match(third.json.error.message, /has no uses left/);

  const [id, secret] = created.json.token.split('.');
  const wrongSecret = await register(`${id}.not-the-secret`);
  assert.equal(wrongSecret.status, 401);
  assert.match(wrongSecret.json.error.message, /not valid/);

  const revocable = await s.request('POST', '/api/v1/enrollment-tokens', { auth: s.admin, body: {} });
  assert.deepEqual(
    (await s.request('DELETE', `/api/v1/enrollment-tokens/${revocable.json.id}`, { auth: s.admin })).json,
    { revoked: true },
  );
  assert.match((await register(revocable.json.token)).json.error.message, /was revoked/);
  assert.equal(
    (await register(s.collector.tokens.enrollmentToken)).status,
    200,
    'the config token still works',
  );

  const listed = await s.request('GET', '/api/v1/enrollment-tokens', { auth: s.admin });
  assert.deepEqual(
    listed.json.tokens.map((x: { state: string; uses: number }) => [x.state, x.uses]),
    [
      ['used_up', 2],
      ['revoked', 0],
    ],
  );
  assert.ok(!JSON.stringify(listed.json).includes(secret), 'the secret is shown once, at creation');
});

test('fleet api: re-registration keeps the id of a known host; a revoked id stays out', async (t) => {
  const s = await session(t);
  const agent = await s.register('web-1');
  const again = (hostname: string, agentId: string) =>
    s.request('POST', '/api/v1/agent/register', {
      body: { enrollmentToken: s.collector.tokens.enrollmentToken, hostname, version: '0.1.0', agentId },
    });
  const back = await again('web-1', agent.agentId);
  assert.equal(back.json.agentId, agent.agentId);
  assert.equal((await heartbeat(s, agent)).status, 401, 'the old secret is replaced');
  const other = await again('db-1', agent.agentId);
  assert.notEqual(other.json.agentId, agent.agentId, 'another hostname cannot take the id');

  await s.request('POST', `/api/v1/agents/${agent.agentId}/revoke`, { auth: s.admin });
  const revoked = await again('web-1', agent.agentId);
  assert.equal(revoked.status, 403);
  assert.equal(revoked.json.error.code, 'E_AGENT_REVOKED');
  const view = await s.request('GET', `/api/v1/agents/${agent.agentId}`, { auth: s.admin });
  assert.equal(view.json.state, 'revoked');
});

test('fleet api: heartbeat details, labels and health are visible per agent', async (t) => {
  const s = await session(t);
  const agent = await s.register('web-1');
  await heartbeat(s, agent, {
    configVersion: 'sha256:abc',
    cpuPercent: 1.5,
    rssBytes: 5_000_000,
    plugins: [{ name: 'nginx', version: '1.0.0', state: 'running' }],
  });
  let view = (await s.request('GET', `/api/v1/agents/${agent.agentId}`, { auth: s.admin })).json;
  assert.equal(view.state, 'online');
  assert.deepEqual(view.heartbeat.plugins, [{ name: 'nginx', version: '1.0.0', state: 'running' }]);
  assert.equal(view.heartbeat.rssBytes, 5_000_000);
  assert.equal(view.heartbeat.configVersion, 'sha256:abc');
  assert.equal(view.remoteAddress, '127.0.0.1');

  await heartbeat(s, agent, {
    plugins: [{ name: 'nginx', state: 'quarantined', reason: 'crashed 5 times' }],
  });
  view = (await s.request('GET', `/api/v1/agents/${agent.agentId}`, { auth: s.admin })).json;
  assert.equal(view.state, 'degraded');
  assert.deepEqual(view.reasons, ['plugin nginx is quarantined: crashed 5 times']);

  const labelled = await s.request('PUT', `/api/v1/agents/${agent.agentId}/labels`, {
    auth: s.admin,
    body: { labels: { role: 'web', env: 'prod' } },
  });
  assert.deepEqual(labelled.json.labels, { env: 'prod', role: 'web' }, 'admin labels win over the reported');
  const bad = await s.request('PUT', `/api/v1/agents/${agent.agentId}/labels`, {
    auth: s.admin,
    body: { labels: { 'bad key': 'x' } },
  });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /labels/);
});

test('fleet api: the desired config follows agent, then the most specific selector', async (t) => {
  const s = await session(t);
  const agent = await s.register('web-1');
  await s.request('PUT', `/api/v1/agents/${agent.agentId}/labels`, {
    auth: s.admin,
    body: { labels: { role: 'web' } },
  });
  const push = async (target: unknown, yaml: string | null) =>
    (await s.request('POST', '/api/v1/configs', { auth: s.admin, body: { target, yaml } })).json.version;
  const desired = async () => (await heartbeat(s, agent)).json.desiredConfigVersion;
  assert.equal(await desired(), null);
  const all = await push({ labels: {} }, 'log:\n  level: info\n');
  assert.equal(await desired(), String(all));
  const web = await push({ labels: { role: 'web' } }, 'log:\n  level: debug\n');
  await push({ labels: { role: 'db' } }, 'log:\n  level: warn\n');
  assert.equal(await desired(), String(web));
  const own = await push({ agent: agent.agentId }, 'log:\n  level: error\n');
  assert.equal(await desired(), String(own));
  const fetched = await s.request('GET', '/api/v1/agent/config', { auth: agent.auth });
  assert.deepEqual(fetched.json.version, String(own));
  assert.equal(fetched.json.yaml, 'log:\n  level: error\n');
  await push({ agent: agent.agentId }, null);
  assert.equal(await desired(), String(web), 'removing its own config falls back to the selector');

  const rejected = [
    ['log: [unclosed\n', /yaml: line 2, column 1: Flow sequence/],
    ['- a\n- b\n', /expected a mapping/],
    ['agent:\n  state_dir: /tmp/x\n', /"agent\.state_dir" cannot be set remotely/],
    ['agent: ~\n', /"agent" cannot be set remotely/],
    ['fleet:\n  upgrade_command: rm -rf /\n', /"fleet" cannot be set remotely/],
  ] as const;
  for (const [yaml, message] of rejected) {
    const answer = await s.request('POST', '/api/v1/configs', {
      auth: s.admin,
      body: { target: { labels: {} }, yaml },
    });
    assert.equal(answer.status, 400, yaml);
    assert.match(answer.json.error.message, message);
  }
  const unknownAgent = await s.request('POST', '/api/v1/configs', {
    auth: s.admin,
    body: { target: { agent: 'agt_nope' }, yaml: 'log: {}\n' },
  });
  assert.equal(unknownAgent.status, 404);
});

test('fleet api: a refused config is tried again by a retry or by pushing the same document again', async (t) => {
  const s = await session(t);
  const agent = await s.register('web-1');
  const target = { agent: agent.agentId };
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the agent's config interpolation
  const yaml = 'inputs:\n  file:\n    paths:\n      - "${LOG_DIR}/app.log"\n';
  const pushed = await s.request('POST', '/api/v1/configs', { auth: s.admin, body: { target, yaml } });
  assert.equal(pushed.status, 201, JSON.stringify(pushed.json));
  const first = pushed.json.version as number;
  const refusedBy = (version: number) =>
    heartbeat(s, agent, {
      remoteConfig: {
        version: null,
        error: { version: String(version), code: 'E_CONFIG_INVALID', message: 'LOG_DIR is not set' },
      },
    });
  assert.equal((await refusedBy(first)).json.desiredConfigVersion, String(first));

  const retried = await s.request('POST', '/api/v1/configs/retry', {
    auth: s.admin,
    body: { target },
  });
  assert.equal(retried.status, 201, JSON.stringify(retried.json));
  assert.ok(retried.json.version > first);
  assert.equal(retried.json.sha256, pushed.json.sha256);
  assert.equal(retried.json.comment, `retry of version ${first}`);
  assert.equal(retried.json.rollbackOf, null);
  assert.equal(
    (await refusedBy(first)).json.desiredConfigVersion,
    String(retried.json.version),
    'a version the agent has not refused yet',
  );
  const fetched = await s.request('GET', '/api/v1/agent/config', { auth: agent.auth });
  assert.equal(fetched.json.yaml, yaml);

  const again = await s.request('POST', '/api/v1/configs', { auth: s.admin, body: { target, yaml } });
  assert.ok(again.json.version > retried.json.version, 'the same document pushed again is a new version');
  assert.equal((await heartbeat(s, agent)).json.desiredConfigVersion, String(again.json.version));

  await s.request('POST', '/api/v1/configs', { auth: s.admin, body: { target, yaml: null } });
  const nothing = await s.request('POST', '/api/v1/configs/retry', { auth: s.admin, body: { target } });
  assert.equal(nothing.status, 404);
  assert.match(nothing.json.error.message, /has no remote config in effect to retry/);
  const neverPushed = await s.request('POST', '/api/v1/configs/retry', {
    auth: s.admin,
    body: { target: { labels: { role: 'none' } } },
  });
  assert.equal(neverPushed.status, 404);
});

test('fleet api: an upgrade is verified by the restarted agent, not by the process that ran it', async (t) => {
  const s = await session(t);
  const a = await s.register('a');
  const sent = await s.request('POST', `/api/v1/agents/${a.agentId}/commands`, {
    auth: s.admin,
    body: { type: 'upgrade', args: { version: '0.1.0' } },
  });
  const old = { instanceId: 'b7e2c1d0-0000-4000-8000-000000000001' };
  assert.deepEqual(
    (await heartbeat(s, a, old)).json.commands.map((c: { id: string }) => c.id),
    [sent.json.id],
  );
  const reported = await s.request('POST', `/api/v1/agent/commands/${sent.json.id}/result`, {
    auth: a.auth,
    body: { status: 'awaiting_verification', message: 'restarting', data: old },
  });
  assert.deepEqual(reported.json, { recorded: true });
  const status = async () =>
    (await s.request('GET', `/api/v1/commands/${sent.json.id}`, { auth: s.admin })).json.status;
  // The old process still heartbeats while it shuts down; it already runs the wanted version.
  await heartbeat(s, a, old);
  assert.equal(await status(), 'awaiting_verification');
  await heartbeat(s, a, { instanceId: 'b7e2c1d0-0000-4000-8000-000000000002' });
  assert.equal(await status(), 'succeeded');
});

test('fleet api: commands go to their agent only, once per result', async (t) => {
  const s = await session(t);
  const a = await s.register('a');
  const b = await s.register('b');
  const sent = await s.request('POST', `/api/v1/agents/${a.agentId}/commands`, {
    auth: s.admin,
    body: { type: 'restart-plugin', args: { name: 'nginx' } },
  });
  assert.equal(sent.status, 201);
  assert.deepEqual((await heartbeat(s, b)).json.commands, []);
  const delivered = (await heartbeat(s, a)).json.commands;
  assert.deepEqual(
    delivered.map((c: { id: string; type: string; args: unknown }) => [c.id, c.type, c.args]),
    [[sent.json.id, 'restart-plugin', { name: 'nginx' }]],
  );
  const result = (agent: Agent, body: unknown = { status: 'succeeded', message: 'done' }) =>
    s.request('POST', `/api/v1/agent/commands/${sent.json.id}/result`, { auth: agent.auth, body });
  const stolen = await result(b);
  assert.equal(stolen.status, 403);
  assert.equal(stolen.json.error.code, 'E_FORBIDDEN');
  assert.deepEqual((await result(a)).json, { recorded: true });
  assert.deepEqual((await result(a)).json, { recorded: false }, 'a repeated result is not an error');
  assert.deepEqual((await heartbeat(s, a)).json.commands, [], 'finished: not delivered again');
  const stored = await s.request('GET', `/api/v1/commands/${sent.json.id}`, { auth: s.admin });
  assert.equal(stored.json.status, 'succeeded');
  assert.deepEqual(stored.json.result, { message: 'done' });

  const brief = await s.request('POST', `/api/v1/agents/${b.agentId}/commands`, {
    auth: s.admin,
    body: { type: 'flush', ttlMs: 1000 },
  });
  await eventually(
    'the unanswered command to show as expired',
    async () => {
      const seen = await s.request('GET', `/api/v1/commands/${brief.json.id}`, { auth: s.admin });
      return seen.json.status === 'expired' ? seen : undefined;
    },
    5000,
  );
  assert.deepEqual((await heartbeat(s, b)).json.commands, [], 'an expired command is never delivered');

  const badArgs = await s.request('POST', `/api/v1/agents/${a.agentId}/commands`, {
    auth: s.admin,
    body: { type: 'upgrade', args: {} },
  });
  assert.equal(badArgs.status, 400);
  assert.match(badArgs.json.error.message, /args\.version/);
  const badType = await s.request('POST', `/api/v1/agents/${a.agentId}/commands`, {
    auth: s.admin,
    body: { type: 'format-disk' },
  });
  assert.equal(badType.status, 400);
  assert.match(badType.json.error.message, /^type: /);
});

test('fleet api: bad input on every fleet route gets a clear 4xx', async (t) => {
  const s = await session(t, { limits: { max_decompressed_bytes: '1MiB' } });
  const agent = await s.register('a');
  const other = await s.register('b');
  const command = await s.request('POST', `/api/v1/agents/${other.agentId}/commands`, {
    auth: s.admin,
    body: { type: 'reload' },
  });
  const adminRoutes: Array<[string, string, unknown?]> = [
    ['GET', '/api/v1/agents'],
    ['GET', `/api/v1/agents/${agent.agentId}`],
    ['POST', `/api/v1/agents/${agent.agentId}/revoke`, {}],
    ['PUT', `/api/v1/agents/${agent.agentId}/labels`, { labels: null }],
    ['POST', `/api/v1/agents/${agent.agentId}/commands`, { type: 'reload' }],
    ['GET', `/api/v1/agents/${agent.agentId}/commands`],
    ['GET', `/api/v1/commands/${command.json.id}`],
    ['POST', '/api/v1/enrollment-tokens', {}],
    ['GET', '/api/v1/enrollment-tokens'],
    ['DELETE', '/api/v1/enrollment-tokens/enr_x'],
    ['POST', '/api/v1/configs', { target: { labels: {} }, yaml: null }],
    ['POST', '/api/v1/configs/rollback', { target: { labels: {} } }],
    ['POST', '/api/v1/configs/retry', { target: { labels: {} } }],
    ['GET', '/api/v1/configs'],
    ['GET', '/api/v1/configs/history?labels='],
    ['GET', '/api/v1/configs/1'],
    ['GET', '/api/v1/plugin/store'],
    ['GET', '/api/v1/plugin/store/disk-check/1.0.0'],
    ['DELETE', '/api/v1/plugin/store/disk-check/1.0.0'],
    ['GET', '/api/v1/plugin/version?name=disk-check'],
    ['GET', '/api/v1/plugin/config'],
    ['PUT', '/api/v1/plugin/config', { target: { labels: {} }, name: 'x', version: null }],
    ['DELETE', '/api/v1/plugin/config', { target: { labels: {} }, name: 'x' }],
  ];
  for (const [method, route, body] of adminRoutes) {
    for (const auth of [undefined, agent.auth, 'Bearer wrong-admin-token-123456']) {
      const answer = await s.request(method, route, { auth, body });
      assert.equal(answer.status, 401, `${method} ${route} with ${auth}`);
      assert.equal(answer.json.error.code, 'E_UNAUTHORIZED');
    }
  }
  for (const [method, route] of [
    ['GET', '/api/v1/agent/plugins'],
    ['GET', '/api/v1/agent/plugins/disk-check/1.0.0'],
    ['GET', '/api/v1/agent/plugin-store'],
    ['GET', '/api/v1/agent/config'],
    ['POST', `/api/v1/agent/commands/${command.json.id}/result`],
  ] as const) {
    for (const auth of [undefined, s.admin, `Bearer ${agent.agentId}.wrong`]) {
      const body = method === 'POST' ? { status: 'failed', message: 'x' } : undefined;
      const answer = await s.request(method, route, { auth, body });
      assert.equal(answer.status, 401, `${method} ${route} with ${auth}`);
    }
  }

  const malformed = await s.request('POST', '/api/v1/configs', {
    auth: s.admin,
    body: '{"target": ',
  });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.error.code, 'E_BAD_BODY');
  const missingField = await s.request('POST', '/api/v1/enrollment-tokens', {
    auth: s.admin,
    body: { ttlMs: -1 },
  });
  assert.equal(missingField.status, 400);
  assert.match(missingField.json.error.message, /^ttlMs: /);
  const unknownKey = await s.request('POST', `/api/v1/agent/commands/${command.json.id}/result`, {
    auth: other.auth,
    body: { status: 'succeeded', message: 'ok', extra: 1 },
  });
  assert.equal(unknownKey.status, 400);
  const badQuery = await s.request('GET', '/api/v1/configs/history?agent=a&labels=b', { auth: s.admin });
  assert.equal(badQuery.status, 400);
  assert.equal(badQuery.json.error.code, 'E_BAD_QUERY');

  const oversizedConfig = await s.request('POST', '/api/v1/configs', {
    auth: s.admin,
    body: { target: { labels: {} }, yaml: `# ${'x'.repeat(2 * 1024 * 1024)}\n` },
  });
  assert.equal(oversizedConfig.status, 413);
  assert.equal(oversizedConfig.json.error.code, 'E_BODY_TOO_LARGE');
  const oversizedResult = await s.request('POST', `/api/v1/agent/commands/${command.json.id}/result`, {
    auth: other.auth,
    body: { status: 'succeeded', message: 'x'.repeat(100 * 1024) },
  });
  assert.equal(oversizedResult.status, 413);
  assert.equal(
    oversizedResult.json.error.message,
    'body is larger than /api/v1/agent/commands/:id/result accepts (65536 bytes, as sent)',
  );

  const bomb = compress(Buffer.from(`{"status":"failed","message":"${'a'.repeat(4 * 1024 * 1024)}"}`));
  assert.ok(bomb.length < 64 * 1024, 'small on the wire');
  const bombed = await s.request('POST', `/api/v1/agent/commands/${command.json.id}/result`, {
    auth: other.auth,
    body: bomb,
    headers: { 'content-encoding': 'zstd' },
  });
  assert.equal(bombed.status, 413);
  assert.equal(bombed.json.error.code, 'E_DECOMPRESSED_TOO_LARGE');

  assert.equal((await s.request('GET', '/api/v1/agents/agt_nope', { auth: s.admin })).status, 404);
  assert.equal((await s.request('GET', '/api/v1/commands/cmd_nope', { auth: s.admin })).status, 404);
  assert.equal((await s.request('GET', '/api/v1/configs/abc', { auth: s.admin })).status, 404);
  assert.equal((await s.request('POST', '/api/v1/agents/agt_nope/revoke', { auth: s.admin })).status, 404);
  assert.equal(
    (await s.request('POST', '/api/v1/agents/agt_nope/commands', { auth: s.admin, body: { type: 'reload' } }))
      .status,
    404,
  );
  const rollbackNothing = await s.request('POST', '/api/v1/configs/rollback', {
    auth: s.admin,
    body: { target: { labels: { role: 'none' } } },
  });
  assert.equal(rollbackNothing.status, 404);
  assert.equal((await heartbeat(s, agent)).status, 200, 'the collector keeps serving');
});

test('fleet api: X-Forwarded-For is believed only from a configured proxy', async (t) => {
  const direct = await session(t);
  const a = await direct.register('a');
  await heartbeat(direct, a, {}, { 'x-forwarded-for': '203.0.113.7' });
  const seenDirect = await direct.request('GET', `/api/v1/agents/${a.agentId}`, { auth: direct.admin });
  assert.equal(seenDirect.json.remoteAddress, '127.0.0.1');

  const proxied = await session(t, { server: { trusted_proxies: ['127.0.0.0/8'] } });
  const b = await proxied.register('b');
  await heartbeat(proxied, b, {}, { 'x-forwarded-for': '203.0.113.7' });
  const seenProxied = await proxied.request('GET', `/api/v1/agents/${b.agentId}`, { auth: proxied.admin });
  assert.equal(seenProxied.json.remoteAddress, '203.0.113.7');

  await assert.rejects(
    startSession({ server: { trusted_proxies: ['10.0.0.0/33'] } }),
    /trusted_proxies\[0\]/,
  );
});

/** A plugin package as agentctl plugin pack lays it out: package/outpost-plugin.json and the bundle. */
async function packagePlugin(
  manifest: Record<string, unknown>,
  code = 'export default {};\n',
): Promise<Buffer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-fleet-pkg-'));
  mkdirSync(path.join(dir, 'package', 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'package', 'outpost-plugin.json'), JSON.stringify(manifest));
  writeFileSync(path.join(dir, 'package', 'dist', 'index.js'), code);
  const file = path.join(dir, 'p.tgz');
  await tar.c({ gzip: true, file, cwd: dir }, ['package']);
  try {
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const manifest = (version: string, extra: Record<string, unknown> = {}) => ({
  name: 'disk-check',
  version,
  apiVersion: 1,
  entry: 'dist/index.js',
  capabilities: ['collect'],
  configSchema: {
    type: 'object',
    properties: { path: { type: 'string' } },
    additionalProperties: false,
  },
  ...extra,
});

test('fleet api: the plugin store checks packages, assigns them and serves them to any registered agent', async (t) => {
  const s = await session(t);
  const a = await s.register('a');
  const b = await s.register('b');
  const upload = (data: Buffer, headers: Record<string, string> = {}) =>
    s.request('POST', '/api/v1/plugin/store', {
      auth: s.admin,
      body: data,
      headers: { 'content-type': 'application/gzip', ...headers },
    });

  const v1 = await packagePlugin(manifest('1.0.0'));
  const stored = await upload(v1);
  assert.equal(stored.status, 201, JSON.stringify(stored.json));
  assert.equal(stored.json.sha256, createHash('sha256').update('export default {};\n').digest('hex'));
  assert.equal((await upload(v1)).status, 200, 'the same package again is a no-op');
  const conflict = await upload(await packagePlugin(manifest('1.0.0'), 'export default { x: 1 };\n'));
  assert.equal(conflict.status, 409);
  assert.equal(conflict.json.error.code, 'E_PLUGIN_VERSION_EXISTS');
  const wrongHash = await upload(await packagePlugin(manifest('1.0.1')), {
    'x-outpost-sha256': 'ab'.repeat(32),
  });
  assert.equal(wrongHash.status, 400);
  assert.match(wrongHash.json.error.message, /sha256 is [0-9a-f]{64}, not abab/);
  const badManifest = await upload(await packagePlugin(manifest('1.0.2', { capabilities: ['teleport'] })));
  assert.equal(badManifest.status, 400);
  assert.match(badManifest.json.error.message, /^plugin package: .*capabilities\[0\]: must be one of/);
  const notTgz = await upload(Buffer.from('definitely not gzip'));
  assert.equal(notTgz.status, 400);
  assert.match(notTgz.json.error.message, /not a readable \.tgz/);
  const asJson = await s.request('POST', '/api/v1/plugin/store', {
    auth: s.admin,
    body: { not: 'a package' },
  });
  assert.equal(asJson.status, 400, 'JSON is not a package');
  const agentUpload = await s.request('POST', '/api/v1/plugin/store', {
    auth: a.auth,
    body: v1,
    headers: { 'content-type': 'application/gzip' },
  });
  assert.equal(agentUpload.status, 401);

  const assign = (body: unknown) => s.request('PUT', '/api/v1/plugin/config', { auth: s.admin, body });
  const badConfig = await assign({
    target: { agent: a.agentId },
    name: 'disk-check',
    version: '1.0.0',
    config: { path: 5 },
  });
  assert.equal(badConfig.status, 400);
  assert.match(badConfig.json.error.message, /^config: .*path/);
  assert.equal(
    (await assign({ target: { agent: a.agentId }, name: 'disk-check', version: '9.9.9' })).status,
    404,
  );
  const assigned = await assign({
    target: { agent: a.agentId },
    name: 'disk-check',
    version: '1.0.0',
    config: { path: '/' },
  });
  assert.equal(assigned.status, 200, JSON.stringify(assigned.json));

  const digestOf = async (agent: Agent) => (await heartbeat(s, agent)).json.desiredPlugins;
  assert.match(await digestOf(a), /^sha256:/);
  assert.equal(await digestOf(b), null, 'nothing assigned to b');
  const desired = await s.request('GET', '/api/v1/agent/plugins', { auth: a.auth });
  assert.deepEqual(desired.json.plugins, [
    {
      name: 'disk-check',
      version: '1.0.0',
      sha256: stored.json.sha256,
      config: { path: '/' },
      enabled: null,
    },
  ]);
  const download = await fetch(`${s.collector.url}/api/v1/agent/plugins/disk-check/1.0.0`, {
    headers: { authorization: a.auth },
  });
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('x-outpost-sha256'), stored.json.sha256);
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(v1));
  // The store is the fleet's approved set: an agent it is not assigned to may still list and fetch it.
  const unassigned = await fetch(`${s.collector.url}/api/v1/agent/plugins/disk-check/1.0.0`, {
    headers: { authorization: b.auth },
  });
  assert.equal(unassigned.status, 200);
  assert.ok(Buffer.from(await unassigned.arrayBuffer()).equals(v1));
  const listed = await s.request('GET', '/api/v1/agent/plugin-store?name=disk-check', { auth: b.auth });
  assert.deepEqual(
    listed.json.plugins.map((p: { version: string; sha256: string }) => [p.version, p.sha256]),
    [['1.0.0', stored.json.sha256]],
  );
  const missing = await s.request('GET', '/api/v1/agent/plugins/disk-check/9.9.9', { auth: b.auth });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'E_NOT_FOUND');

  await heartbeat(s, a, { plugins: [{ name: 'disk-check', version: '1.0.0', state: 'running' }] });
  const versions = await s.request('GET', '/api/v1/plugin/version?name=disk-check', { auth: s.admin });
  assert.deepEqual(versions.json.versions, [
    {
      version: '1.0.0',
      inStore: true,
      sha256: stored.json.sha256,
      uploadedAt: stored.json.uploadedAt,
      agents: [{ agentId: a.agentId, hostname: 'a', state: 'running' }],
    },
  ]);
  assert.equal((await s.request('GET', '/api/v1/plugin/version', { auth: s.admin })).status, 400);

  const removed = await assign({ target: { labels: {} }, name: 'disk-check', version: null });
  assert.equal(removed.status, 200);
  const bDesired = await s.request('GET', '/api/v1/agent/plugins', { auth: b.auth });
  assert.deepEqual(bDesired.json.plugins, [{ name: 'disk-check', version: null }]);
  const aDesired = await s.request('GET', '/api/v1/agent/plugins', { auth: a.auth });
  assert.equal(aDesired.json.plugins[0].version, '1.0.0', "the agent's own assignment wins over a selector");

  const unassign = (body: unknown) => s.request('DELETE', '/api/v1/plugin/config', { auth: s.admin, body });
  assert.deepEqual((await unassign({ target: { agent: a.agentId }, name: 'disk-check' })).json, {
    removed: true,
  });
  assert.equal((await unassign({ target: { agent: a.agentId }, name: 'disk-check' })).status, 404);
  const afterUnassign = await s.request('GET', '/api/v1/agent/plugins', { auth: a.auth });
  assert.deepEqual(
    afterUnassign.json.plugins,
    [{ name: 'disk-check', version: null }],
    'the selector applies again',
  );
});

test('fleet api: a store package is removed only once no assignment names it', async (t) => {
  const s = await session(t);
  const a = await s.register('a');
  const upload = async (version: string) => {
    const answer = await s.request('POST', '/api/v1/plugin/store', {
      auth: s.admin,
      body: await packagePlugin(manifest(version)),
      headers: { 'content-type': 'application/gzip' },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
  };
  await upload('1.0.0');
  await upload('1.1.0');
  const assign = (target: unknown, version: string | null) =>
    s.request('PUT', '/api/v1/plugin/config', {
      auth: s.admin,
      body: { target, name: 'disk-check', version },
    });
  assert.equal((await assign({ agent: a.agentId }, '1.0.0')).status, 200);
  assert.equal((await assign({ labels: { role: 'web' } }, '1.0.0')).status, 200);
  const remove = (version: string) =>
    s.request('DELETE', `/api/v1/plugin/store/disk-check/${version}`, { auth: s.admin });
  const stored = async () =>
    (await s.request('GET', '/api/v1/plugin/store', { auth: s.admin })).json.plugins.map(
      (p: { version: string }) => p.version,
    );

  const inUse = await remove('1.0.0');
  assert.equal(inUse.status, 409);
  assert.equal(inUse.json.error.code, 'E_PLUGIN_IN_USE');
  assert.match(
    inUse.json.error.message,
    new RegExp(`disk-check@1\\.0\\.0 is still assigned to agent:${a.agentId}, labels:role=web`),
  );
  assert.deepEqual(await stored(), ['1.0.0', '1.1.0'], 'a refused removal removes nothing');
  const download = await fetch(`${s.collector.url}/api/v1/agent/plugins/disk-check/1.0.0`, {
    headers: { authorization: a.auth },
  });
  assert.equal(download.status, 200, 'its agents can still download it');
  await download.arrayBuffer();

  assert.deepEqual((await remove('1.1.0')).json, { removed: true });
  assert.deepEqual(await stored(), ['1.0.0']);
  assert.equal(
    (await s.request('GET', '/api/v1/plugin/store/disk-check/1.1.0', { auth: s.admin })).status,
    404,
  );
  assert.equal((await remove('1.1.0')).status, 404);
  assert.equal(
    (await assign({ agent: a.agentId }, '1.1.0')).status,
    404,
    'a removed version cannot be assigned',
  );

  // Assigned as removed (version null) does not hold any package.
  assert.equal((await assign({ agent: a.agentId }, null)).status, 200);
  assert.equal((await remove('1.0.0')).status, 409, 'the selector still names it');
  const unassigned = await s.request('DELETE', '/api/v1/plugin/config', {
    auth: s.admin,
    body: { target: { labels: { role: 'web' } }, name: 'disk-check' },
  });
  assert.equal(unassigned.status, 200);
  assert.deepEqual((await remove('1.0.0')).json, { removed: true });
  assert.deepEqual(await stored(), []);
});
