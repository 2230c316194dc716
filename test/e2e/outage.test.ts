import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  agentctl,
  agentYaml,
  allRecords,
  queueStatsOf,
  seqReport,
  startAgent,
  startCollector,
  tempDir,
  waitFor,
} from './harness.ts';

test('records produced while the collector is down (kill -9) arrive exactly once after it returns', async (t) => {
  using dir = tempDir('outage');
  const collectorDir = join(dir.path, 'collector');
  let collector = await startCollector(collectorDir);
  t.after(() => collector.proc.stop('SIGKILL'));
  const listen = new URL(collector.url).host;
  const stateDir = join(dir.path, 'agent');
  const agent = await startAgent(dir.path, agentYaml({ url: collector.url, stateDir }), {
    OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
  });
  t.after(() => agent.proc.stop('SIGKILL'));
  const status = async () => {
    const out = await agentctl(['status', '--json', '--socket', agent.socket]);
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout);
  };

  const agentId = await waitFor('first records at the collector', async () => {
    const s = await status();
    return s.sender?.recordsSent > 0 ? (s.collector.agentId as string) : undefined;
  });

  await collector.proc.stop('SIGKILL');
  const sentBefore = (await status()).sender.recordsSent;
  // While the collector is down the agent keeps collecting into its queue and keeps failing to send.
  const during = await waitFor('records to pile up in the queue', async () => {
    const s = await status();
    return s.queue.depth >= 200 && s.sender.consecutiveFailures > 0 ? s : undefined;
  });
  assert.equal(during.sender.recordsSent, sentBefore);

  collector = await startCollector(collectorDir, listen);
  await waitFor('the backlog to drain', async () => {
    const s = await status();
    return s.queue.depth === 0 && s.queue.lastSeq > during.queue.lastSeq ? s : undefined;
  });

  const exit = await agent.proc.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, agent.proc.tail());
  const left = await queueStatsOf(stateDir);
  assert.equal(left.depth, 0);
  assert.deepEqual(left.dropped, { queue_full: 0, max_age: 0, purged: 0 });

  const stored = await allRecords(collector, agentId);
  assert.deepEqual(seqReport(stored, left.lastSeq), { missing: [], duplicated: [] });
  assert.equal(stored.length, left.lastSeq);
});
