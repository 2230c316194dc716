import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, allRecords, outpostCollector, startFleet, tempDir, waitFor } from './harness.ts';

test('agentctl plugin install name@version installs from the collector plugin store', async (t) => {
  using dir = tempDir('plugin-store-install');
  const { collector, agent, agentId } = await startFleet(t, dir.path, {
    collectorConfig: 'agents:\n  offline_after: 30s\n',
  });
  const socket = ['--socket', agent.socket];

  // Two versions in the store, uploaded as an admin does; none is assigned to the agent.
  const project = join(dir.path, 'hello-store');
  assert.equal((await agentctl(['plugin', 'new', project])).code, 0);
  const manifestPath = join(project, 'outpost-plugin.json');
  for (const version of ['0.1.0', '0.2.0']) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, version }, null, 2));
    const packed = await agentctl([
      'plugin',
      'pack',
      project,
      '--json',
      ...(version === '0.1.0' ? [] : ['--no-build']),
    ]);
    assert.equal(packed.code, 0, packed.stderr);
    const uploaded = await outpostCollector(
      ['plugin', 'upload', (JSON.parse(packed.stdout) as { file: string }).file],
      {
        OUTPOST_COLLECTOR_URL: collector.url,
        OUTPOST_ADMIN_TOKEN: collector.adminToken,
      },
    );
    assert.equal(uploaded.code, 0, uploaded.stderr);
  }

  const first = await agentctl(['plugin', 'install', 'hello-store@0.1.0', ...socket]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /resolving hello-store@0\.1\.0 at http:\/\/127\.0\.0\.1:\d+/);
  assert.match(first.stdout, /downloading hello-store@0\.1\.0/);
  assert.match(first.stdout, /installed hello-store@0\.1\.0: running/);
  const runs = await waitFor('hello-store records at the collector', async () => {
    const metrics = await allRecords(collector, agentId, 'metrics');
    const found = metrics.filter((r) => r.name === 'hello_store.runs');
    return found.length > 0 ? found : undefined;
  });
  assert.ok(runs.every((r) => r.agentId === agentId));

  const unknown = await agentctl(['plugin', 'install', 'hello-store@9.9.9', ...socket]);
  assert.equal(unknown.code, 1);
  assert.match(
    unknown.stderr,
    /hello-store@9\.9\.9 is not in the plugin store .*stored versions: 0\.1\.0, 0\.2\.0/,
  );
  const absent = await agentctl(['plugin', 'install', 'no-such-plugin', ...socket]);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /no-such-plugin is not in the plugin store .*upload it there first/);
  const malformed = await agentctl(['plugin', 'install', 'hello-store@', ...socket]);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /neither an existing plugin dir or \.tgz nor a store spec name\[@version\]/);

  // No version: the newest in the store.
  const newest = await agentctl(['plugin', 'install', 'hello-store', '--json', ...socket]);
  assert.equal(newest.code, 0, newest.stderr);
  const done = JSON.parse(newest.stdout) as { name: string; version: string; state: string };
  assert.deepEqual([done.name, done.version, done.state], ['hello-store', '0.2.0', 'running']);
});
