import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tar from 'tar';
import { outpostCollector as cli } from '../../../test/e2e/harness.ts';
import { startSession } from './session.ts';

test('admin cli: tokens, agents, configs and commands against a running collector', async (t) => {
  const s = await startSession();
  t.after(() => s.close());
  const env = { OUTPOST_COLLECTOR_URL: s.collector.url, OUTPOST_ADMIN_TOKEN: s.collector.tokens.adminToken };

  const created = await cli(
    ['token', 'create', '--max-uses', '1', '--ttl', '1h', '--description', 'rack 4'],
    env,
  );
  assert.equal(created.code, 0, created.stderr);
  const token = created.stdout.split('\n')[0]!;
  assert.match(token, /^enr_[0-9a-f]+\./);
  const listed = await cli(['token', 'list'], env);
  assert.match(listed.stdout, /^ID\s+STATE\s+USES\s+EXPIRES\s+DESCRIPTION\n/);
  assert.match(listed.stdout, /enr_[0-9a-f]+\s+active\s+0\/1\s+\S+\s+rack 4\n/);
  assert.ok(!listed.stdout.includes(token.split('.')[1]!), 'the secret is never listed');

  const agent = await s.register('web-1');
  const agents = await cli(['agents', 'list', '--json'], env);
  assert.deepEqual(
    JSON.parse(agents.stdout).map((a: { id: string }) => a.id),
    [agent.agentId],
  );
  const labelled = await cli(['agents', 'label', agent.agentId, 'role=web'], env);
  assert.equal(labelled.stdout, `agent ${agent.agentId} labels: env=test,role=web\n`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-fleet-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'web.yaml');
  writeFileSync(file, 'log:\n  level: debug\n');
  const pushed = await cli(['config', 'push', file, '--labels', 'role=web', '--comment', 'more logs'], env);
  assert.equal(pushed.stdout, 'config version 1 for labels role=web\n');
  writeFileSync(file, 'log:\n  level: warn\n');
  await cli(['config', 'push', file, '--labels', 'role=web'], env);
  const rolled = await cli(['config', 'rollback', '--labels', 'role=web'], env);
  assert.equal(rolled.stdout, 'config version 3 for labels role=web (rollback to 1)\n');
  const history = await cli(['config', 'history', '--labels', 'role=web', '--json'], env);
  assert.deepEqual(
    JSON.parse(history.stdout).map((v: { version: number }) => v.version),
    [3, 2, 1],
  );
  const shown = await cli(['config', 'show', '3'], env);
  assert.match(shown.stdout, /level: debug/);
  const retried = await cli(['config', 'retry', '--labels', 'role=web', '--json'], env);
  assert.equal(retried.code, 0, retried.stderr);
  assert.deepEqual((({ version, comment }) => ({ version, comment }))(JSON.parse(retried.stdout)), {
    version: 4,
    comment: 'retry of version 3',
  });
  assert.match((await cli(['config', 'show', '4'], env)).stdout, /level: debug/);
  const noRetry = await cli(['config', 'retry', '--labels', 'role=db'], env);
  assert.equal(noRetry.code, 1);
  assert.match(noRetry.stderr, /404 E_NOT_FOUND: .*no remote config in effect to retry/);

  const sent = await cli(
    ['command', 'send', agent.agentId, 'restart-plugin', '--plugin', 'nginx', '--json'],
    env,
  );
  const command = JSON.parse(sent.stdout) as { id: string; status: string; args: unknown };
  assert.deepEqual([command.status, command.args], ['queued', { name: 'nginx' }]);
  const commands = await cli(['command', 'list', agent.agentId], env);
  assert.match(commands.stdout, new RegExp(`${command.id}\\s+restart-plugin\\s+queued`));

  const shownAgent = await cli(['agents', 'show', agent.agentId], env);
  assert.match(shownAgent.stdout, /state:\s+offline/);
  const revoked = await cli(['agents', 'revoke', agent.agentId], env);
  assert.equal(revoked.stdout, `agent ${agent.agentId} revoked\n`);
});

test('admin cli: usage errors exit 2, refusals and an unreachable collector exit 1', async (t) => {
  const s = await startSession();
  t.after(() => s.close());
  const env = { OUTPOST_COLLECTOR_URL: s.collector.url, OUTPOST_ADMIN_TOKEN: s.collector.tokens.adminToken };

  const both = await cli(['config', 'history', '--agent', 'a', '--labels', 'x=y'], env);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --agent/);
  assert.equal((await cli(['token', 'create', '--ttl', 'soon'], env)).code, 2);
  assert.equal((await cli(['command', 'send', 'agt_x'], env)).code, 2, 'missing argument');
  const noToken = await cli(['agents', 'list'], { OUTPOST_COLLECTOR_URL: s.collector.url });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /no admin token/);

  const wrong = await cli(['agents', 'list', '--admin-token', 'wrong-token-wrong-token'], env);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /401 E_UNAUTHORIZED/);
  const missing = await cli(['agents', 'show', 'agt_nope'], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404 E_NOT_FOUND: agent agt_nope not found/);
  const badType = await cli(['command', 'send', 'agt_nope', 'format-disk'], env);
  assert.equal(badType.code, 1);
  assert.match(badType.stderr, /type: /);

  const down = await cli(['agents', 'list', '--url', 'http://127.0.0.1:1'], env);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the collector at http:\/\/127\.0\.0\.1:1: .*is it running\?/);
});

test('admin cli: plugin upload, list, assign, versions and assignments', async (t) => {
  const s = await startSession();
  t.after(() => s.close());
  const env = { OUTPOST_COLLECTOR_URL: s.collector.url, OUTPOST_ADMIN_TOKEN: s.collector.tokens.adminToken };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-fleet-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'package', 'dist'), { recursive: true });
  const manifest = {
    name: 'disk-check',
    version: '1.2.0',
    apiVersion: 1,
    entry: 'dist/index.js',
    capabilities: ['collect'],
  };
  writeFileSync(path.join(dir, 'package', 'outpost-plugin.json'), JSON.stringify(manifest));
  writeFileSync(path.join(dir, 'package', 'dist', 'index.js'), 'export default {};\n');
  const file = path.join(dir, 'disk-check-1.2.0.tgz');
  await tar.c({ gzip: true, file, cwd: dir }, ['package']);
  const agent = await s.register('web-1');

  const uploaded = await cli(['plugin', 'upload', file], env);
  assert.equal(uploaded.code, 0, uploaded.stderr);
  assert.match(uploaded.stdout, /^disk-check@1\.2\.0 in the store \(bundle sha256 [0-9a-f]{64}\)\n$/);
  const wrongHash = await cli(['plugin', 'upload', file, '--sha256', '00'.repeat(32)], env);
  assert.equal(wrongHash.code, 1);
  assert.match(wrongHash.stderr, /400 E_BAD_BODY: plugin package: the bundle's sha256 is/);
  assert.match((await cli(['plugin', 'list'], env)).stdout, /^NAME\s+VERSION.*\ndisk-check\s+1\.2\.0\s/);

  const assigned = await cli(
    ['plugin', 'assign', 'disk-check', '1.2.0', '--agent', agent.agentId, '--disable'],
    env,
  );
  assert.equal(assigned.stdout, `disk-check@1.2.0 assigned to agent ${agent.agentId}\n`);
  const removal = await cli(['plugin', 'assign', 'disk-check', '--remove', '--labels', 'env=test'], env);
  assert.equal(removal.stdout, 'disk-check is to be removed from labels env=test\n', removal.stderr);
  const assignments = JSON.parse((await cli(['plugin', 'assignments', '--json'], env)).stdout) as Array<{
    version: string | null;
    enabled: boolean | null;
  }>;
  assert.deepEqual(
    assignments.map((a) => [a.version, a.enabled]),
    [
      ['1.2.0', false],
      [null, null],
    ],
  );
  assert.match((await cli(['plugin', 'versions', 'disk-check'], env)).stdout, /1\.2\.0\s+yes\s+-/);
  const inUse = await cli(['plugin', 'remove', 'disk-check@1.2.0'], env);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /409 E_PLUGIN_IN_USE: disk-check@1\.2\.0 is still assigned to agent:/);
  const unassigned = await cli(['plugin', 'unassign', 'disk-check', '--agent', agent.agentId], env);
  assert.equal(unassigned.stdout, 'disk-check is no longer assigned there\n', unassigned.stderr);
  const removed = await cli(['plugin', 'remove', 'disk-check@1.2.0'], env);
  assert.equal(removed.stdout, 'disk-check@1.2.0 removed from the store\n', removed.stderr);
  assert.equal((await cli(['plugin', 'list', '--json'], env)).stdout, '[]\n');
  assert.equal((await cli(['plugin', 'remove', 'disk-check'], env)).code, 2, 'no version');
  assert.equal((await cli(['plugin', 'assign', 'disk-check', '--labels', ''], env)).code, 2);
  assert.equal(
    (await cli(['plugin', 'assign', 'disk-check', '1.2.0', '--agent', 'x', '--config', '{'], env)).code,
    2,
  );
});
