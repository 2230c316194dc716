import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isOutpostError } from '../errors.ts';
import { type IngestRecord, MIGRATIONS, type NewAgent, openSqliteStore, type Store } from './index.ts';

const dbFile = () =>
  path.join(mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-store-')), 'collector.db');

const agent = (id: string): NewAgent => ({
  id,
  hostname: `${id}-host`,
  labels: { env: 'test' },
  version: '0.1.0',
  secretSha256: 'ab'.repeat(32),
  registeredAt: 1_000,
});

const metric = (seq: number, ts: number, name = 'system.cpu.utilization'): IngestRecord => ({
  seq,
  kind: 'metric',
  ts,
  name,
  value: seq / 10,
  unit: '1',
  attrs: { cpu: seq % 2 },
  source: 'system',
});

async function insert(store: Store, agentId: string, records: IngestRecord[]): Promise<number> {
  return store.transaction((tx) => tx.insertRecords(agentId, records, 5_000));
}

test('store: migrations run once and record their versions', async () => {
  const file = dbFile();
  await (await openSqliteStore({ file })).close();
  await (await openSqliteStore({ file })).close();
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  assert.deepEqual(
    rows,
    MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
  );
  assert.equal(db.prepare('PRAGMA journal_mode').pluck().get(), 'wal');
  db.close();
});

test('store: a new file gets 16 KB pages and no auto-vacuum; an older file keeps its own', async () => {
  const settings = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return [db.pragma('page_size', { simple: true }), db.pragma('auto_vacuum', { simple: true })];
    } finally {
      db.close();
    }
  };
  const fresh = dbFile();
  await (await openSqliteStore({ file: fresh })).close();
  assert.deepEqual(settings(fresh), [16_384, 0]);

  // As earlier versions made it: 4 KB pages, incremental auto-vacuum, and records already stored.
  const older = dbFile();
  const made = new Database(older);
  made.pragma('auto_vacuum = INCREMENTAL');
  made.pragma('user_version = 0');
  made.close();
  let store = await openSqliteStore({ file: older });
  await store.registerAgent(agent('agt_old'));
  await insert(store, 'agt_old', [metric(1, 10_000)]);
  await store.close();
  store = await openSqliteStore({ file: older });
  try {
    assert.deepEqual(settings(older), [4096, 2]);
    assert.equal(await insert(store, 'agt_old', [metric(2, 11_000)]), 1);
    assert.deepEqual(
      (await store.queryRecords({ limit: 10 })).records.map((r) => r.seq),
      [1, 2],
    );
  } finally {
    await store.close();
  }
});

test('store: a database from a newer collector is refused, not downgraded', async () => {
  const file = dbFile();
  await (await openSqliteStore({ file })).close();
  const db = new Database(file);
  db.exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`);
  db.close();
  await assert.rejects(openSqliteStore({ file }), (err) => isOutpostError(err, 'E_STORE_SCHEMA_TOO_NEW'));
});

test('store: agents, heartbeats and records survive close and reopen', async () => {
  const file = dbFile();
  const store = await openSqliteStore({ file });
  await store.registerAgent(agent('agt_a'));
  assert.equal(
    await store.recordHeartbeat({
      agentId: 'agt_a',
      at: 2_000,
      version: '0.2.0',
      status: { version: '0.2.0' },
    }),
    true,
  );
  assert.equal(await store.recordHeartbeat({ agentId: 'agt_x', at: 2_000, version: '1', status: {} }), false);
  assert.equal(await insert(store, 'agt_a', [metric(1, 100), metric(2, 200)]), 2);
  await store.close();

  const reopened = await openSqliteStore({ file });
  const stored = await reopened.getAgent('agt_a');
  assert.equal(stored?.lastHeartbeatAt, 2_000);
  assert.equal(stored?.version, '0.2.0');
  assert.deepEqual(stored?.status, { version: '0.2.0' });
  assert.deepEqual(stored?.labels, { env: 'test' });
  const page = await reopened.queryRecords({ limit: 10 });
  assert.deepEqual(
    page.records.map((r) => [r.agentId, r.seq, r.ts, r.value, r.attrs]),
    [
      ['agt_a', 1, 100, 0.1, { cpu: 1 }],
      ['agt_a', 2, 200, 0.2, { cpu: 0 }],
    ],
  );
  await reopened.close();
});

test('store: a failed transaction leaves nothing behind', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  await store.registerAgent(agent('agt_a'));
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.insertRecords('agt_a', [metric(1, 100)], 5_000);
      await tx.putIdempotency({
        key: 'agt_a-1',
        agentId: 'agt_a',
        contentSha256: 'x',
        response: {},
        createdAt: 1,
      });
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal((await store.queryRecords({ limit: 10 })).records.length, 0);
  assert.equal(await store.transaction((tx) => tx.getIdempotency('agt_a-1')), undefined);
  await store.close();
});

test('store: the (agent, seq) guard skips records already stored', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  await store.registerAgent(agent('agt_a'));
  await store.registerAgent(agent('agt_b'));
  assert.equal(await insert(store, 'agt_a', [metric(1, 100), metric(2, 200)]), 2);
  assert.equal(await insert(store, 'agt_a', [metric(2, 200), metric(3, 300)]), 1);
  assert.equal(await insert(store, 'agt_b', [metric(1, 100)]), 1, 'seq is per agent');
  assert.equal((await store.queryRecords({ limit: 10 })).records.length, 4);
  await store.close();
});

test('store: queries filter and page in (ts, id) order without gaps or repeats', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  await store.registerAgent(agent('agt_a'));
  await store.registerAgent(agent('agt_b'));
  // Equal timestamps on purpose: the id breaks ties across page boundaries.
  await insert(
    store,
    'agt_a',
    Array.from({ length: 25 }, (_, i) => metric(i + 1, 1_000 + Math.floor(i / 3))),
  );
  await insert(store, 'agt_b', [metric(1, 1_000), metric(2, 1_001, 'system.memory.usage')]);
  await insert(store, 'agt_a', [
    { seq: 100, kind: 'log', ts: 1_002, name: 'syslog', body: 'hi', attrs: {}, source: 'log' },
  ]);

  const seen: number[] = [];
  let after: { ts: number; id: number } | undefined;
  for (;;) {
    const page = await store.queryRecords({ agentId: 'agt_a', kind: 'metric', limit: 4, after });
    seen.push(...page.records.map((r) => r.seq));
    const last = page.records.at(-1);
    if (!page.more || !last) break;
    after = { ts: last.ts, id: last.id };
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 25 }, (_, i) => i + 1),
  );

  const window = await store.queryRecords({ agentId: 'agt_a', from: 1_002, to: 1_004, limit: 100 });
  assert.deepEqual(
    window.records.map((r) => r.ts),
    [1_002, 1_002, 1_002, 1_002, 1_003, 1_003, 1_003],
  );
  const byName = await store.queryRecords({ name: 'system.memory.usage', limit: 100 });
  assert.deepEqual(
    byName.records.map((r) => r.agentId),
    ['agt_b'],
  );
  const logs = await store.queryRecords({ kind: 'log', limit: 100 });
  assert.deepEqual(
    logs.records.map((r) => [r.body, r.value]),
    [['hi', null]],
  );
  await store.close();
});

test('store: close is idempotent and refuses later calls', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  const pending = store.listAgents();
  const first = store.close();
  assert.equal(store.close(), first);
  assert.deepEqual(await pending, [], 'work queued before close still completes');
  await first;
  await assert.rejects(store.getAgent('agt_a'), (err) => isOutpostError(err, 'E_STORE_CLOSED'));
});

test('store: a transaction handle is dead after commit', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
  await store.transaction(async (tx) => {
    leaked = tx;
  });
  await assert.rejects(leaked!.getIdempotency('k'), (err) =>
    isOutpostError(err, 'E_STORE_TRANSACTION_ENDED'),
  );
  await store.close();
});

test('store: paging through any filter returns exactly the matching records, in order (model check)', async (t) => {
  const fc = await import('fast-check');
  const store = await openSqliteStore({ file: dbFile() });
  // Closed in finally: an open better-sqlite3 handle at process exit aborts Node and hides the failure.
  t.after(() => store.close());
  await store.registerAgent(agent('agt_a'));
  await store.registerAgent(agent('agt_b'));
  let nextSeq = 1;
  const model: { agentId: string; seq: number; ts: number; name: string; order: number }[] = [];
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ agentB: fc.boolean(), ts: fc.integer({ min: 0, max: 20 }), nameB: fc.boolean() }),
        {
          maxLength: 15,
        },
      ),
      fc.record({
        agent: fc.option(fc.constantFrom('agt_a', 'agt_b'), { nil: undefined }),
        name: fc.option(fc.constantFrom('m.a', 'm.b'), { nil: undefined }),
        from: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
        to: fc.option(fc.integer({ min: 0, max: 21 }), { nil: undefined }),
        limit: fc.integer({ min: 1, max: 7 }),
      }),
      async (batch, query) => {
        for (const r of batch) {
          const agentId = r.agentB ? 'agt_b' : 'agt_a';
          const record = metric(nextSeq++, r.ts, r.nameB ? 'm.b' : 'm.a');
          await insert(store, agentId, [record]);
          model.push({ agentId, seq: record.seq, ts: r.ts, name: record.name, order: model.length });
        }
        const expected = model
          .filter(
            (m) =>
              (query.agent === undefined || m.agentId === query.agent) &&
              (query.name === undefined || m.name === query.name) &&
              (query.from === undefined || m.ts >= query.from) &&
              (query.to === undefined || m.ts < query.to),
          )
          .sort((a, b) => a.ts - b.ts || a.order - b.order)
          .map((m) => `${m.agentId}/${m.seq}`);
        const got: string[] = [];
        let after: { ts: number; id: number } | undefined;
        for (;;) {
          const page = await store.queryRecords({
            ...query,
            agentId: query.agent,
            limit: query.limit,
            after,
          });
          assert.ok(page.records.length <= query.limit);
          got.push(...page.records.map((r) => `${r.agentId}/${r.seq}`));
          const last = page.records.at(-1);
          if (!page.more || !last) break;
          after = { ts: last.ts, id: last.id };
        }
        assert.deepEqual(got, expected);
      },
    ),
    { numRuns: 60 },
  );
});

test('store: a batch past one insert chunk stores every record once; repeated seqs are skipped and counted', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  await store.registerAgent(agent('agt_c'));
  // Sizes that take every statement size (500, 100, 20, 5 and 1 rows).
  const first = Array.from({ length: 623 }, (_, i) => metric(i + 1, 1_000 + i));
  assert.equal(await insert(store, 'agt_c', first), 623);
  // Seqs 64..693: 560 already stored, 70 new; and 650 once more, repeated inside the batch.
  const second = [...Array.from({ length: 630 }, (_, i) => metric(i + 64, 2_000 + i)), metric(650, 3_000)];
  assert.equal(await insert(store, 'agt_c', second), 70);
  const page = await store.queryRecords({ agentId: 'agt_c', limit: 1000 });
  assert.equal(page.records.length, 693);
  assert.deepEqual(
    page.records.map((r) => r.seq).sort((a, b) => a - b),
    Array.from({ length: 693 }, (_, i) => i + 1),
  );
  const r64 = page.records.find((r) => r.seq === 64)!;
  assert.equal(r64.ts, 1_063, 'a repeated seq keeps the record stored first');
  assert.deepEqual(r64.attrs, { cpu: 0 });
  assert.equal(page.records.find((r) => r.seq === 650)!.ts, 2_586);
  await store.close();
});

test('store: transactions queued together commit together; one that throws rolls back alone', async () => {
  const store = await openSqliteStore({ file: dbFile() });
  await store.registerAgent(agent('agt_g'));
  const results = await Promise.allSettled(
    [1, 2, 3, 4].map((n) =>
      store.transaction(async (tx) => {
        await tx.insertRecords('agt_g', [metric(n * 10, n), metric(n * 10 + 1, n)], 5_000);
        if (n === 3) throw new Error('refused batch 3');
        await tx.putIdempotency({
          key: `agt_g-${n}`,
          agentId: 'agt_g',
          contentSha256: 'x',
          response: { n },
          createdAt: 1,
        });
        return n;
      }),
    ),
  );
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    [1, 2, 'refused batch 3', 4],
  );
  const page = await store.queryRecords({ agentId: 'agt_g', limit: 100 });
  assert.deepEqual(
    page.records.map((r) => r.seq).sort((a, b) => a - b),
    [10, 11, 20, 21, 40, 41],
  );
  const keys = await store.transaction(async (tx) =>
    Promise.all([1, 2, 3, 4].map(async (n) => (await tx.getIdempotency(`agt_g-${n}`))?.response ?? null)),
  );
  assert.deepEqual(keys, [{ n: 1 }, { n: 2 }, null, { n: 4 }]);
  await store.close();
  await assert.rejects(
    store.transaction(async () => 1),
    (err) => isOutpostError(err, 'E_STORE_CLOSED'),
  );
});
