import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, agentYaml, allRecords, startAgent, startCollector, tempDir, waitFor } from './harness.ts';

test('after kill -9 and a deleted queue WAL, the restarted agent reuses no seq: nothing refused with 409, nothing skipped', async (t) => {
  using dir = tempDir('wal-loss');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));
  const stateDir = join(dir.path, 'agent');
  const yaml = agentYaml({ url: collector.url, stateDir, inputs: false });
  const env = { OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken };
  let agent = await startAgent(dir.path, yaml, env);
  t.after(() => agent.proc.stop('SIGKILL'));
  const ctl = async (...args: string[]) => {
    const out = await agentctl([...args, '--socket', agent.socket]);
    assert.equal(out.code, 0, out.stderr);
    return out.stdout;
  };
  const emit = async (names: string[]) => {
    for (const name of names) await ctl('emit', '--kind', 'event', '--name', name);
  };
  const sent = async (n: number) =>
    waitFor(`${n} records acknowledged`, async () => {
      const s = JSON.parse(await ctl('status', '--json'));
      return s.sender.recordsSent >= n && s.queue.depth === 0 ? s : undefined;
    });

  await emit(['before.1', 'before.2', 'before.3']);
  const { collector: link } = await sent(3);
  const agentId = link.agentId as string;

  // The whole queue, acks included, is still in the WAL: nothing was checkpointed yet.
  await agent.proc.stop('SIGKILL');
  const queueFile = join(stateDir, 'queue.db');
  assert.ok(existsSync(`${queueFile}-wal`));
  rmSync(`${queueFile}-wal`);

  agent = await startAgent(dir.path, yaml, env);
  const stats = JSON.parse(await ctl('queue', 'stats', '--json')).stats;
  assert.ok(stats.walLostFrames > 0, 'the agent saw the WAL loss');
  assert.match(await ctl('queue', 'stats'), /recovered {4}the WAL had lost \d+ committed frames/);

  await emit(['after.1', 'after.2']);
  await sent(2);
  const stored = await waitFor('all five records at the collector', async () => {
    const records = await allRecords(collector, agentId);
    return records.length >= 5 ? records : undefined;
  });
  assert.deepEqual(stored.map((r) => r.name).sort(), [
    'after.1',
    'after.2',
    'before.1',
    'before.2',
    'before.3',
  ]);
  assert.equal(new Set(stored.map((r) => r.seq)).size, 5, 'no record seq was reused');
  const after = JSON.parse(await ctl('queue', 'stats', '--json')).stats;
  assert.equal(after.deadLetter, 0, 'no batch was refused as a conflict');
});
