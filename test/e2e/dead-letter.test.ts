import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FlakyProxy } from './flaky-proxy.ts';
import { agentctl, agentYaml, allRecords, startAgent, startCollector, tempDir, waitFor } from './harness.ts';

test('a batch the collector refuses for good is dead-lettered; agentctl lists, retries and purges it', async (t) => {
  using dir = tempDir('dead-letter');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));
  const proxy = await FlakyProxy.start(collector.url);
  t.after(() => proxy.close());
  const stateDir = join(dir.path, 'agent');
  const agent = await startAgent(dir.path, agentYaml({ url: proxy.url, stateDir, inputs: false }), {
    OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
  });
  t.after(() => agent.proc.stop('SIGKILL'));
  const ctl = async (...args: string[]) => agentctl([...args, '--socket', agent.socket]);
  const queueStats = async () => JSON.parse((await ctl('queue', 'stats', '--json')).stdout);

  let out = await ctl('emit', '--kind', 'event', '--name', 'deploy.started', '--attr', 'version=1.4.2');
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, 'accepted 1 record\n');
  await waitFor('the first record acknowledged', async () => {
    const s = JSON.parse((await ctl('status', '--json')).stdout);
    return s.sender.recordsSent >= 1 ? true : undefined;
  });

  proxy.mix = { reject_400: 1 };
  for (const name of ['refused.one', 'refused.two']) {
    out = await ctl('emit', '--kind', 'event', '--name', name);
    assert.equal(out.code, 0, out.stderr);
  }
  await waitFor('both refused records in the dead-letter table', async () =>
    (await queueStats()).stats.deadLetter >= 2 ? true : undefined,
  );

  out = await ctl('queue', 'dead-letter', 'list');
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /400 E_\w+: .*injected permanent refusal/);
  assert.match(out.stdout, /event refused\.one/);

  out = await ctl('queue', 'dead-letter', 'retry');
  assert.equal(out.code, 2, 'retry without a batch or --all is a usage error');
  assert.match(out.stderr, /name a batch seq, or pass --all/);

  proxy.mix = {};
  out = await ctl('queue', 'dead-letter', 'retry', '--all');
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, '2 records queued again\n');

  const status = JSON.parse((await ctl('status', '--json')).stdout);
  const agentId = status.collector.agentId as string;
  const stored = await waitFor('the retried records at the collector', async () => {
    const records = await allRecords(collector, agentId);
    return records.length >= 3 ? records : undefined;
  });
  assert.deepEqual(stored.map((r) => r.name).sort(), ['deploy.started', 'refused.one', 'refused.two']);
  assert.equal(stored.find((r) => r.name === 'deploy.started')?.attrs.version, '1.4.2');

  proxy.mix = { reject_400: 1 };
  await ctl('emit', '--kind', 'event', '--name', 'refused.three');
  await waitFor('the third record dead-lettered', async () =>
    (await queueStats()).stats.deadLetter >= 1 ? true : undefined,
  );
  out = await ctl('queue', 'dead-letter', 'purge', '--all');
  assert.equal(out.code, 2);
  assert.match(out.stderr, /add --yes/);
  out = await ctl('queue', 'dead-letter', 'purge', '--all', '--yes');
  assert.equal(out.stdout, '1 records purged\n');
  const after = await queueStats();
  assert.equal(after.stats.deadLetter, 0);
  assert.equal(after.stats.dropped.purged, 1);

  out = await ctl('queue', 'verify', join(stateDir, 'queue.db'));
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(out.stdout, /: ok \(schema 6,/);

  out = await ctl('emit', '--kind', 'nope', '--name', 'x');
  assert.equal(out.code, 2);
  assert.match(out.stderr, /--kind must be one of metric, log, event, alert/);
  out = await ctl('emit', '--kind', 'metric', '--name', 'x');
  assert.equal(out.code, 1);
  assert.match(out.stderr, /records\.0\.value: a metric needs a value/);
});
