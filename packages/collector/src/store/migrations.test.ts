import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isOutpostError } from '../errors.ts';
import { type IngestRecord, openSqliteStore } from './index.ts';
import { MIGRATIONS, migrate } from './migrations.ts';

const metric = (seq: number, ts: number): IngestRecord => ({
  seq,
  kind: 'metric',
  ts,
  name: 'system.cpu.utilization',
  value: seq / 10,
  unit: '1',
  attrs: { cpu: seq % 2 },
  source: 'system',
});

/** A database as collectors before migration 6 left it: two agents, their records, a key and a cursor. */
function databaseAtVersion5(file: string): void {
  const db = new Database(file);
  migrate(
    db,
    file,
    MIGRATIONS.filter((m) => m.version <= 5),
  );
  const agent = db.prepare(
    `INSERT INTO agents (id, hostname, labels, version, secret_sha256, registered_at) VALUES (?, 'h', '{}', '1', 'x', 0)`,
  );
  agent.run('agt_old_a');
  agent.run('agt_old_b');
  const record = db.prepare(
    `INSERT INTO records (id, agent_id, seq, kind, ts, name, value, unit, body, attrs, source, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 's', 7)`,
  );
  record.run(10, 'agt_old_a', 1, 'metric', 1_000, 'system.cpu.utilization', 0.5, null, '{"cpu":0}');
  record.run(11, 'agt_old_b', 1, 'log', 1_001, 'app', null, 'GET /', '{}');
  record.run(12, 'agt_old_a', 2, 'alert', 1_002, 'disk.full', null, null, '{"mount":"/"}');
  db.prepare(
    `INSERT INTO idempotency (key, agent_id, content_sha256, response, created_at) VALUES ('agt_old_a-1', 'agt_old_a', 'h', '{"accepted":2}', 0)`,
  ).run();
  db.prepare(`INSERT INTO sink_cursors (sink, last_id, updated_at) VALUES ('webhook', 11, 0)`).run();
  db.close();
}

test('store: migration 6 moves records to an integer agent key and loses nothing', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-migrate-'));
  const file = path.join(dir, 'collector.db');
  try {
    databaseAtVersion5(file);
    const store = await openSqliteStore({ file });
    const all = await store.queryRecords({ limit: 100 });
    assert.deepEqual(
      all.records.map((r) => [
        r.id,
        r.agentId,
        r.seq,
        r.kind,
        r.name,
        r.value,
        r.body,
        r.attrs,
        r.receivedAt,
      ]),
      [
        [10, 'agt_old_a', 1, 'metric', 'system.cpu.utilization', 0.5, null, { cpu: 0 }, 7],
        [11, 'agt_old_b', 1, 'log', 'app', null, 'GET /', {}, 7],
        [12, 'agt_old_a', 2, 'alert', 'disk.full', null, null, { mount: '/' }, 7],
      ],
    );
    // Readers that filter or group by agent, kind and name see the old rows under their agent.
    const metrics = await store.queryRecords({
      agentId: 'agt_old_a',
      name: 'system.cpu.utilization',
      kind: 'metric',
      limit: 10,
    });
    assert.deepEqual(
      metrics.records.map((r) => r.id),
      [10],
    );
    assert.deepEqual(await store.alerts.metricCounts('system.cpu.utilization', 0, 2_000), [
      { agentId: 'agt_old_a', count: 1 },
    ]);
    assert.deepEqual(
      (await store.alerts.readRecordsAfter(10, 10, 'alert')).map((r) => [r.id, r.agentId]),
      [[12, 'agt_old_a']],
    );
    assert.equal(await store.alerts.getCursor('webhook'), 11);
    assert.equal(await store.alerts.oldestMetricTs({ agentId: 'agt_old_a' }), 1_000);

    // A (agent, seq) stored before the upgrade is still known: a late retry does not store it twice.
    const inserted = await store.transaction(async (tx) => {
      assert.deepEqual((await tx.getIdempotency('agt_old_a-1'))?.response, { accepted: 2 });
      return tx.insertRecords('agt_old_a', [metric(1, 2_000), metric(3, 2_001)], 9);
    });
    assert.equal(inserted, 1);

    // An agent registered after the upgrade gets a key of its own, and ids carry on after the old ones.
    await store.registerAgent({
      id: 'agt_new',
      hostname: 'n',
      labels: {},
      version: '1',
      secretSha256: 'x',
      registeredAt: 1,
    });
    await store.transaction((tx) => tx.insertRecords('agt_new', [metric(1, 3_000)], 9));
    const after = await store.queryRecords({ from: 2_000, limit: 10 });
    assert.deepEqual(
      after.records.map((r) => [r.id, r.agentId, r.seq]),
      [
        [13, 'agt_old_a', 3],
        [14, 'agt_new', 1],
      ],
    );
    await store.close();

    const db = new Database(file, { readonly: true });
    const keys = db.prepare('SELECT id, key FROM agents ORDER BY key').all();
    db.close();
    assert.deepEqual(keys, [
      { id: 'agt_old_a', key: 1 },
      { id: 'agt_old_b', key: 2 },
      { id: 'agt_new', key: 3 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: records of an agent that is not registered are refused with E_STORE_UNKNOWN_AGENT', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-migrate-'));
  const store = await openSqliteStore({ file: path.join(dir, 'collector.db') });
  try {
    await assert.rejects(
      store.transaction((tx) => tx.insertRecords('agt_nobody', [metric(1, 1)], 1)),
      (err) => isOutpostError(err, 'E_STORE_UNKNOWN_AGENT') && /agt_nobody/.test(err.message),
    );
    assert.equal((await store.queryRecords({ limit: 10 })).records.length, 0);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
