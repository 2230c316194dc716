import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addAgent, withTempStore } from '../../test/temp-store.ts';
import type { IngestRecord, Rollup, Store } from '../store/index.ts';

const HOUR = 3_600_000;
const T0 = 1_000 * HOUR;

/** A store with agents agt_a and agt_b. */
function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  return withTempStore(async (store) => {
    await addAgent(store, 'agt_a');
    await addAgent(store, 'agt_b');
    await fn(store);
  });
}

let seq = 0;
const mem = (ts: number, state: string, value: number): IngestRecord => ({
  seq: ++seq,
  kind: 'metric',
  ts,
  name: 'system.memory.usage',
  value,
  unit: 'By',
  attrs: { 'system.memory.state': state },
  source: 'system',
});

const insert = (store: Store, agentId: string, records: IngestRecord[]) =>
  store.transaction((tx) => tx.insertRecords(agentId, records, T0).then(() => undefined));

const brief = (r: Rollup) => [r.hour - T0, r.attrs['system.memory.state'], r.count, r.min, r.max, r.avg];

test('rollups: one row per series and hour, read back by agent, metric and overlapping range, paged', async () => {
  await withStore(async (store) => {
    await insert(store, 'agt_a', [
      mem(T0 + 1000, 'used', 10),
      mem(T0 + 1000, 'free', 90),
      mem(T0 + 2000, 'used', 30),
      mem(T0 + 2000, 'free', 70),
      mem(T0 + HOUR + 5, 'used', 50),
      mem(T0 + HOUR + 5, 'free', 50),
      { seq: ++seq, kind: 'log', ts: T0, name: 'syslog', body: 'x', attrs: {}, source: 'log' },
    ]);
    await insert(store, 'agt_b', [mem(T0 + 1000, 'used', 1)]);
    assert.equal(await store.alerts.rollupNext(1000), 8);
    // A late record for an hour already rolled up joins that hour's row.
    await insert(store, 'agt_a', [mem(T0 + 3000, 'used', 2)]);
    assert.equal(await store.alerts.rollupNext(1000), 1);

    const all = await store.alerts.queryRollups({
      agentId: 'agt_a',
      name: 'system.memory.usage',
      limit: 100,
    });
    assert.equal(all.more, false);
    // Ordered by hour (then by id, which within an hour follows no meaning).
    assert.deepEqual(
      all.rollups
        .map(brief)
        .sort((x, y) => Number(x[0]) - Number(y[0]) || String(x[1]).localeCompare(String(y[1]))),
      [
        [0, 'free', 2, 70, 90, 80],
        [0, 'used', 3, 2, 30, 14],
        [HOUR, 'free', 1, 50, 50, 50],
        [HOUR, 'used', 1, 50, 50, 50],
      ],
    );
    assert.deepEqual(
      all.rollups.map((r) => r.hour - T0),
      [0, 0, HOUR, HOUR],
    );
    for (const r of all.rollups) {
      assert.equal(r.unit, 'By');
      assert.equal(r.source, 'system');
      assert.equal(r.agentId, 'agt_a');
    }

    // An hour is returned when it overlaps [from, to).
    const late = await store.alerts.queryRollups({ agentId: 'agt_a', from: T0 + HOUR / 2, limit: 100 });
    assert.deepEqual(
      late.rollups.map((r) => r.hour - T0),
      [0, 0, HOUR, HOUR],
    );
    const early = await store.alerts.queryRollups({ agentId: 'agt_a', to: T0 + HOUR, limit: 100 });
    assert.deepEqual(
      early.rollups.map((r) => r.hour - T0),
      [0, 0],
    );
    const other = await store.alerts.queryRollups({ agentId: 'agt_b', limit: 100 });
    assert.deepEqual(other.rollups.map(brief), [[0, 'used', 1, 1, 1, 1]]);
    const everyone = await store.alerts.queryRollups({ name: 'system.memory.usage', limit: 100 });
    assert.equal(everyone.rollups.length, 5);
    assert.deepEqual(await store.alerts.queryRollups({ name: 'syslog', limit: 100 }), {
      rollups: [],
      more: false,
    });

    const paged: Rollup[] = [];
    let after: { hour: number; id: number } | undefined;
    for (let pages = 1; ; pages++) {
      const page = await store.alerts.queryRollups({ agentId: 'agt_a', limit: 3, after });
      paged.push(...page.rollups);
      if (!page.more) {
        assert.equal(pages, 2);
        break;
      }
      const last = page.rollups.at(-1)!;
      after = { hour: last.hour, id: last.id };
    }
    assert.deepEqual(paged, all.rollups);
  });
});

test('rollups: the oldest raw metric still stored, by agent and metric', async () => {
  await withStore(async (store) => {
    assert.equal(await store.alerts.oldestMetricTs({}), null);
    await insert(store, 'agt_a', [mem(T0 + 5, 'used', 1), mem(T0 + 9, 'free', 1)]);
    await insert(store, 'agt_b', [mem(T0 + 2, 'used', 1)]);
    assert.equal(await store.alerts.oldestMetricTs({}), T0 + 2);
    assert.equal(await store.alerts.oldestMetricTs({ agentId: 'agt_a' }), T0 + 5);
    assert.equal(
      await store.alerts.oldestMetricTs({ agentId: 'agt_a', name: 'system.memory.usage' }),
      T0 + 5,
    );
    assert.equal(await store.alerts.oldestMetricTs({ name: 'system.cpu.utilization' }), null);
  });
});

test('retention: the newest record is never deleted, so its id is never handed out again', async () => {
  await withStore(async (store) => {
    await insert(store, 'agt_a', [mem(T0, 'used', 1), mem(T0 + 1, 'used', 2)]);
    await store.alerts.rollupNext(1000);
    assert.equal(await store.alerts.deleteRecordsBefore(T0 + HOUR, Number.MAX_SAFE_INTEGER, 100), 1);
    const newest = await store.alerts.maxRecordId();
    await insert(store, 'agt_a', [mem(T0 + 2, 'used', 3)]);
    assert.equal(await store.alerts.maxRecordId(), newest + 1);
  });
});
