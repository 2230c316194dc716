import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type NewAgent, openSqliteStore, type Store } from './index.ts';

type WithAfter = { after: (fn: () => unknown) => void };

function dbFile(t: WithAfter): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-fleet-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'collector.db');
}

const agent = (id: string, hostname = `${id}-host`): NewAgent => ({
  id,
  hostname,
  labels: { env: 'test' },
  version: '0.1.0',
  secretSha256: 'ab'.repeat(32),
  registeredAt: 1_000,
});

async function open(t: WithAfter, file = dbFile(t)): Promise<Store> {
  const store = await openSqliteStore({ file });
  // Closed in after(): an open better-sqlite3 handle at exit aborts Node and hides the failure.
  t.after(() => store.close());
  return store;
}

const token = (id: string, overrides: { expiresAt?: number | null; maxUses?: number | null } = {}) => ({
  id,
  secretSha256: 'cd'.repeat(32),
  description: `token ${id}`,
  createdAt: 1_000,
  expiresAt: overrides.expiresAt ?? null,
  maxUses: overrides.maxUses ?? null,
});

test('fleet store: an enrollment token counts its uses and says why it is refused', async (t) => {
  const store = await open(t);
  await store.fleet.createEnrollmentToken(token('enr_a', { maxUses: 2, expiresAt: 10_000 }));
  await store.fleet.createEnrollmentToken(token('enr_b'));
  assert.equal(await store.fleet.useEnrollmentToken('enr_a', 2_000), 'ok');
  assert.equal(await store.fleet.useEnrollmentToken('enr_a', 2_000), 'ok');
  assert.equal(await store.fleet.useEnrollmentToken('enr_a', 2_000), 'used_up');
  assert.equal(await store.fleet.useEnrollmentToken('enr_b', 10_000_000), 'ok', 'no expiry, no limit');
  assert.equal(await store.fleet.useEnrollmentToken('enr_x', 2_000), 'unknown');
  assert.equal(await store.fleet.revokeEnrollmentToken('enr_b', 3_000), true);
  assert.equal(await store.fleet.revokeEnrollmentToken('enr_b', 3_000), false, 'revoked once');
  assert.equal(await store.fleet.useEnrollmentToken('enr_b', 3_000), 'revoked');
  const tokens = await store.fleet.listEnrollmentTokens();
  assert.deepEqual(
    tokens.map((x) => [x.id, x.uses, x.revokedAt]),
    [
      ['enr_a', 2, null],
      ['enr_b', 1, 3_000],
    ],
  );
});

test('fleet store: an expired token is refused as expired; racing uses never exceed max_uses', async (t) => {
  const store = await open(t);
  await store.fleet.createEnrollmentToken(token('enr_e', { expiresAt: 5_000 }));
  assert.equal(await store.fleet.useEnrollmentToken('enr_e', 4_999), 'ok');
  assert.equal(await store.fleet.useEnrollmentToken('enr_e', 5_000), 'expired');
  await store.fleet.createEnrollmentToken(token('enr_one', { maxUses: 3 }));
  const uses = await Promise.all(
    Array.from({ length: 10 }, () => store.fleet.useEnrollmentToken('enr_one', 1_000)),
  );
  assert.equal(uses.filter((u) => u === 'ok').length, 3);
  assert.equal((await store.fleet.getEnrollmentToken('enr_one'))?.uses, 3);
});

test('fleet store: a revoked agent loses its secret at once and cannot take its id back', async (t) => {
  const store = await open(t);
  await store.registerAgent(agent('agt_a', 'web-1'));
  await store.registerAgent(agent('agt_b', 'web-2'));
  const again = {
    agentId: 'agt_a',
    hostname: 'web-1',
    labels: { env: 'prod' },
    version: '0.2.0',
    secretSha256: 'ef'.repeat(32),
  };
  assert.equal(await store.fleet.reregisterAgent(again), 'reissued');
  const reissued = await store.getAgent('agt_a');
  assert.equal(reissued?.secretSha256, 'ef'.repeat(32));
  assert.deepEqual(reissued?.labels, { env: 'prod' });
  assert.equal(await store.fleet.reregisterAgent({ ...again, hostname: 'web-9' }), 'other_host');
  assert.equal(await store.fleet.reregisterAgent({ ...again, agentId: 'agt_zz' }), 'unknown');

  assert.equal(await store.fleet.revokeAgent('agt_a', 5_000), true);
  assert.equal(await store.fleet.revokeAgent('agt_a', 6_000), false);
  assert.equal((await store.getAgent('agt_a'))?.secretSha256, '');
  assert.equal((await store.fleet.getAgentState('agt_a'))?.revokedAt, 5_000);
  assert.equal(await store.fleet.reregisterAgent(again), 'revoked');
  assert.equal((await store.fleet.getAgentState('agt_b'))?.revokedAt, null, 'the other agent is untouched');
});

test('fleet store: admin labels and the remote address are kept per agent', async (t) => {
  const store = await open(t);
  await store.registerAgent(agent('agt_a'));
  assert.equal(await store.fleet.setAdminLabels('agt_a', { role: 'web' }), true);
  assert.equal(await store.fleet.setAdminLabels('agt_nope', { role: 'web' }), false);
  await store.fleet.noteRemoteAddress('agt_a', '10.1.2.3');
  assert.deepEqual(await store.fleet.getAgentState('agt_a'), {
    agentId: 'agt_a',
    revokedAt: null,
    adminLabels: { role: 'web' },
    remoteAddress: '10.1.2.3',
  });
  await store.fleet.setAdminLabels('agt_a', null);
  assert.equal((await store.fleet.listAgentStates())[0]?.adminLabels, null);
});

test('fleet store: config versions grow per target; the newest of each is current', async (t) => {
  const store = await open(t);
  const push = (target: string, yaml: string | null, createdAt: number) =>
    store.fleet.pushConfig({
      target,
      yaml,
      sha256: yaml && `sha:${yaml}`,
      comment: '',
      createdAt,
      rollbackOf: null,
    });
  const v1 = await push('labels:env=prod', 'a: 1', 1);
  const v2 = await push('agent:agt_a', 'b: 2', 2);
  const v3 = await push('labels:env=prod', 'a: 3', 3);
  const v4 = await push('agent:agt_a', null, 4);
  assert.deepEqual([v1.version, v2.version, v3.version, v4.version], [1, 2, 3, 4]);
  assert.deepEqual(
    (await store.fleet.currentConfigs()).map((c) => [c.target, c.version, c.yaml]),
    [
      ['agent:agt_a', 4, null],
      ['labels:env=prod', 3, 'a: 3'],
    ],
  );
  assert.deepEqual(
    (await store.fleet.configHistory('labels:env=prod', 10)).map((c) => c.version),
    [3, 1],
  );
  assert.equal((await store.fleet.getConfigVersion(2))?.yaml, 'b: 2');
  assert.equal(await store.fleet.getConfigVersion(99), undefined);
});

test('fleet store: commands are delivered until finished, expire, and only their agent finishes them', async (t) => {
  const file = dbFile(t);
  const store = await open(t, file);
  await store.registerAgent(agent('agt_a'));
  await store.registerAgent(agent('agt_b'));
  const queue = (id: string, type: string, expiresAt = 100_000, args = {}) =>
    store.fleet.queueCommand({ id, agentId: 'agt_a', type, args, createdAt: 1_000, expiresAt });
  await queue('cmd_1', 'reload');
  await queue('cmd_2', 'flush', 2_000);
  await queue('cmd_3', 'upgrade', 100_000, { version: '0.2.0' });

  const first = await store.fleet.deliverCommands('agt_a', 1_500);
  assert.deepEqual(
    first.map((c) => [c.id, c.status, c.deliveries]),
    [
      ['cmd_1', 'delivered', 1],
      ['cmd_2', 'delivered', 1],
      ['cmd_3', 'delivered', 1],
    ],
  );
  assert.deepEqual(await store.fleet.deliverCommands('agt_b', 1_500), []);

  const done = { status: 'succeeded' as const, result: { message: 'ok' }, at: 1_600 };
  assert.equal(await store.fleet.finishCommand('agt_b', 'cmd_1', done), 'other_agent');
  assert.equal(await store.fleet.finishCommand('agt_a', 'cmd_x', done), 'unknown');
  assert.equal(await store.fleet.finishCommand('agt_a', 'cmd_1', done), 'ok');
  assert.equal(await store.fleet.finishCommand('agt_a', 'cmd_1', done), 'already_finished');
  assert.equal(
    await store.fleet.finishCommand('agt_a', 'cmd_3', {
      status: 'awaiting_verification',
      result: { message: 'restarting' },
      at: 1_700,
    }),
    'ok',
  );

  // cmd_2 expired at 2_000 without a result; cmd_3 waits for the next heartbeat's version.
  assert.deepEqual(await store.fleet.deliverCommands('agt_a', 3_000), []);
  assert.equal((await store.fleet.getCommand('cmd_2'))?.status, 'expired');
  const settled = await store.fleet.verifyUpgrades('agt_a', { version: '0.2.0', instanceId: null }, 4_000);
  assert.deepEqual(
    settled.map((c) => [c.id, c.status]),
    [['cmd_3', 'succeeded']],
  );
  await store.close();

  const reopened = await open(t, file);
  const listed = await reopened.fleet.listCommands('agt_a', 10);
  assert.deepEqual(listed.map((c) => [c.id, c.status]).sort(), [
    ['cmd_1', 'succeeded'],
    ['cmd_2', 'expired'],
    ['cmd_3', 'succeeded'],
  ]);
  assert.match(String((await reopened.fleet.getCommand('cmd_3'))?.result?.message), /version 0\.2\.0/);
});

test('fleet store: an upgrade is settled by the restarted process only, and failed on another version', async (t) => {
  const store = await open(t);
  await store.registerAgent(agent('agt_a'));
  await store.fleet.queueCommand({
    id: 'cmd_u',
    agentId: 'agt_a',
    type: 'upgrade',
    args: { version: '9.9.9' },
    createdAt: 1,
    expiresAt: 100_000,
  });
  await store.fleet.deliverCommands('agt_a', 2);
  await store.fleet.finishCommand('agt_a', 'cmd_u', {
    status: 'awaiting_verification',
    result: { message: 'restarting', data: { instanceId: 'run-1' } },
    at: 3,
  });
  const verify = (instanceId: string | null) =>
    store.fleet
      .verifyUpgrades('agt_a', { version: '0.1.0', instanceId }, 4)
      .then((c) => c.map((x) => x.status));
  // A heartbeat the old process sent while it shut down proves nothing about the new version.
  assert.deepEqual(await verify('run-1'), []);
  assert.equal((await store.fleet.getCommand('cmd_u'))?.status, 'awaiting_verification');
  assert.deepEqual(await verify('run-2'), ['failed']);
  assert.match(String((await store.fleet.getCommand('cmd_u'))?.result?.message), /0\.1\.0, not 9\.9\.9/);
});

test('fleet store: a plugin package is removed only while no assignment names that version', async (t) => {
  const file = dbFile(t);
  const store = await open(t, file);
  const pkg = (version: string) => ({
    name: 'disk-check',
    version,
    sha256: version.replace(/\./g, '').padEnd(64, '0'),
    packageSha256: 'ef'.repeat(32),
    manifest: { name: 'disk-check', version },
    size: 3,
    uploadedAt: 1_000,
  });
  assert.equal(await store.fleet.putPluginPackage(pkg('1.0.0'), Buffer.from('one')), 'stored');
  assert.equal(await store.fleet.putPluginPackage(pkg('1.1.0'), Buffer.from('two')), 'stored');
  const assign = (target: string, version: string | null) =>
    store.fleet.assignPlugin({
      target,
      name: 'disk-check',
      version,
      config: null,
      enabled: null,
      updatedAt: 2,
    });
  await assign('labels:role=web', '1.0.0');
  await assign('agent:agt_a', '1.0.0');
  await assign('labels:', null);

  assert.deepEqual(await store.fleet.removePluginPackage('disk-check', '1.0.0'), {
    outcome: 'assigned',
    targets: ['agent:agt_a', 'labels:role=web'],
  });
  assert.deepEqual(await store.fleet.removePluginPackage('disk-check', '1.1.0'), { outcome: 'removed' });
  assert.deepEqual(await store.fleet.removePluginPackage('disk-check', '1.1.0'), { outcome: 'missing' });
  assert.equal(await store.fleet.readPluginPackage('disk-check', '1.1.0'), undefined);
  assert.ok(await store.fleet.readPluginPackage('disk-check', '1.0.0'), 'the refused removal kept it');

  await store.fleet.removePluginAssignment('labels:role=web', 'disk-check');
  await assign('agent:agt_a', null);
  assert.deepEqual(await store.fleet.removePluginPackage('disk-check', '1.0.0'), { outcome: 'removed' });
  await store.close();
  const reopened = await open(t, file);
  assert.deepEqual(await reopened.fleet.listPluginPackages('disk-check'), []);
});
