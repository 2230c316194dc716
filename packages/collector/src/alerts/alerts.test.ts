import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { addAgent, withTempStore } from '../../test/temp-store.ts';
import type { AlertInstance, IngestRecord, Store } from '../store/index.ts';
import { AlertEngine, aggregate, EDGE_CURSOR, ruleSchema, step } from './index.ts';

const logger = pino({ level: 'silent' });

let seq = 0;
const metric = (name: string, ts: number, value: number): IngestRecord => ({
  seq: ++seq,
  kind: 'metric',
  ts,
  name,
  value,
  attrs: {},
  source: 'test',
});

async function push(store: Store, agentId: string, records: IngestRecord[]): Promise<void> {
  await store.transaction((tx) => tx.insertRecords(agentId, records, Date.now()).then(() => undefined));
}

const observation = (active: boolean) => ({
  key: 'k',
  ruleId: 'r',
  name: 'cpu high',
  labels: {},
  value: 1,
  source: 'rule' as const,
  active,
});

test('alerts: state machine waits `for` in pending, fires, resolves, and drops a pending that stops holding', () => {
  let s = step(undefined, observation(false), 1000, 0);
  assert.equal(s.next, undefined, 'a condition that never held stores nothing');
  s = step(undefined, observation(true), 1000, 0);
  assert.deepEqual(s.transitions, [{ from: 'inactive', to: 'pending' }]);
  let prev = s.next as AlertInstance;
  s = step(prev, observation(true), 1000, 999);
  assert.deepEqual(s.transitions, [], 'still pending before `for` elapsed');
  assert.equal(s.next?.since, 0, 'pending keeps its start time');
  s = step(s.next, observation(true), 1000, 1000);
  assert.deepEqual(s.transitions, [{ from: 'pending', to: 'firing' }]);
  prev = s.next as AlertInstance;
  s = step(prev, observation(true), 1000, 5000);
  assert.deepEqual(s.transitions, [], 'one condition is one alert: firing stays firing');
  s = step(s.next, observation(false), 1000, 6000);
  assert.deepEqual(s.transitions, [{ from: 'firing', to: 'resolved' }]);
  s = step(s.next, observation(true), 0, 7000);
  assert.deepEqual(s.transitions, [{ from: 'resolved', to: 'firing' }], 'for: 0 fires at once');

  const pending = step(undefined, observation(true), 1000, 0).next;
  assert.deepEqual(step(pending, observation(false), 1000, 10).transitions, [
    { from: 'pending', to: 'inactive' },
  ]);

  const edge = { ...observation(false), active: undefined, source: 'edge' as const };
  assert.deepEqual(step(undefined, { ...edge, target: 'firing' }, 0, 0).transitions, [
    { from: 'inactive', to: 'firing' },
  ]);
  assert.equal(step(undefined, { ...edge, target: 'resolved' }, 0, 0).next, undefined);
});

test('alerts: aggregates per agent (avg, min, max, last by ts)', () => {
  const rows = [
    { agentId: 'a', ts: 3, value: 9 },
    { agentId: 'a', ts: 1, value: 3 },
    { agentId: 'b', ts: 1, value: 1 },
    { agentId: 'a', ts: 2, value: 0 },
  ];
  assert.deepEqual(aggregate(rows), [
    { agentId: 'a', count: 3, avg: 4, min: 0, max: 9, last: 9 },
    { agentId: 'b', count: 1, avg: 1, min: 1, max: 1, last: 1 },
  ]);
});

test('alerts: rule validation names the field', () => {
  const bad = ruleSchema.safeParse({
    type: 'threshold',
    name: 'x',
    metric: 'm',
    op: 'over',
    threshold: 'ten',
    window: '5 min',
  });
  assert.equal(bad.success, false);
  const paths = bad.error!.issues.map((i) => i.path.join('.')).sort();
  assert.deepEqual(paths, ['op', 'threshold', 'window']);
  const regex = ruleSchema.safeParse({ type: 'log_pattern', name: 'x', pattern: '([' });
  assert.match(String(regex.error?.issues[0]?.message), /not a valid regular expression/);
  assert.equal(ruleSchema.safeParse({ type: 'agent_offline', name: 'down', colour: 'red' }).success, false);
});

test('alerts: threshold rule over real stored records fires after `for`, resolves, and queues one notification per transition', async () => {
  await withTempStore(async (store) => {
    await addAgent(store, 'agt_a', 0);
    await addAgent(store, 'agt_b', 0);
    let now = 100_000;
    const engine = new AlertEngine({
      store,
      logger,
      offlineAfterMs: 1e9,
      intervalMs: 3_600_000,
      now: () => now,
    });
    try {
      await store.alerts.putRule({
        id: 'rul_1',
        name: 'cpu high',
        spec: {
          type: 'threshold',
          name: 'cpu high',
          metric: 'cpu',
          op: 'above',
          threshold: 0.9,
          aggregate: 'max',
          window: '10s',
          for: '5s',
          labels: { env: 'prod' },
        },
        createdAt: 0,
        updatedAt: 0,
      });
      await store.alerts.putChannel({
        id: 'chn_1',
        spec: { name: 'hook', type: 'webhook', url: 'http://127.0.0.1:1/' },
        createdAt: 0,
      });
      await push(store, 'agt_a', [metric('cpu', now - 1000, 0.95)]);
      await push(store, 'agt_b', [metric('cpu', now - 1000, 0.2)]);
      await engine.evaluate();
      assert.deepEqual(
        (await store.alerts.listAlerts()).map((a) => [a.key, a.state]),
        [['rule:rul_1:agt_a', 'pending']],
      );
      now += 6000;
      await push(store, 'agt_a', [metric('cpu', now - 500, 0.97)]);
      await engine.evaluate();
      await engine.evaluate();
      const [firing] = await store.alerts.listAlerts({ state: 'firing' });
      assert.equal(firing?.value, 0.97);
      assert.equal(firing?.labels.hostname, 'agt_a-host');
      assert.equal(firing?.labels.alertname, 'cpu high');
      now += 20_000;
      await push(store, 'agt_a', [metric('cpu', now - 500, 0.1)]);
      await engine.evaluate();
      const { transitions } = await store.alerts.queryTransitions({ limit: 10 });
      assert.deepEqual(transitions.map((t) => `${t.from}->${t.to}`).reverse(), [
        'inactive->pending',
        'pending->firing',
        'firing->resolved',
      ]);
      const outbox = await store.alerts.listNotifications(10);
      assert.deepEqual(outbox.map((n) => (n.payload as { status: string }).status).reverse(), [
        'firing',
        'resolved',
      ]);
    } finally {
      await engine.close();
    }
  });
});

test('alerts: offline, no-data and log-pattern rules, edge alerts and silences share the one model', async () => {
  await withTempStore(async (store) => {
    const now = 1_000_000;
    await addAgent(store, 'agt_up', now - 1000);
    await addAgent(store, 'agt_down', now - 60_000);
    const engine = new AlertEngine({
      store,
      logger,
      offlineAfterMs: 30_000,
      intervalMs: 3_600_000,
      now: () => now,
    });
    try {
      const rule = (id: string, spec: Record<string, unknown>) =>
        store.alerts.putRule({ id, name: String(spec.name), spec, createdAt: 0, updatedAt: 0 });
      await rule('rul_off', { type: 'agent_offline', name: 'agent down' });
      await rule('rul_nodata', { type: 'no_data', name: 'no cpu', metric: 'cpu', window: '1m' });
      await rule('rul_log', {
        type: 'log_pattern',
        name: 'panics',
        pattern: 'panic|fatal',
        window: '1m',
        count_above: 1,
      });
      await store.alerts.putChannel({
        id: 'chn_1',
        spec: { name: 'hook', type: 'webhook', url: 'http://127.0.0.1:1/' },
        createdAt: 0,
      });
      await store.alerts.putSilence({
        id: 'sil_1',
        matchers: [{ name: 'alertname', value: 'no cpu', op: '=' }],
        comment: 'known',
        createdAt: 0,
        expiresAt: now + 60_000,
      });
      await push(store, 'agt_up', [metric('cpu', now - 1000, 0.5)]);
      const log = (body: string): IngestRecord => ({
        seq: ++seq,
        kind: 'log',
        ts: now - 100,
        name: 'app',
        body,
        attrs: {},
        source: 'log',
      });
      await push(store, 'agt_up', [log('kernel panic'), log('all good'), log('fatal: disk')]);
      await push(store, 'agt_down', [
        {
          seq: ++seq,
          kind: 'alert',
          ts: now - 10,
          name: 'disk.full',
          value: 99,
          attrs: { state: 'firing', mount: '/' },
          source: 'plugin:disk',
        },
      ]);
      await engine.evaluate();
      const firing = (await store.alerts.listAlerts({ state: 'firing' })).map((a) => a.key).sort();
      assert.deepEqual(firing, [
        'edge:agt_down:disk.full',
        'rule:rul_log:agt_up',
        'rule:rul_nodata:agt_down',
        'rule:rul_off:agt_down',
      ]);
      const edge = (await store.alerts.listAlerts()).find((a) => a.source === 'edge');
      assert.equal(edge?.labels.mount, '/');
      const notified = (await store.alerts.listNotifications(20)).map((n) => n.alertKey).sort();
      assert.deepEqual(
        notified,
        ['edge:agt_down:disk.full', 'rule:rul_log:agt_up', 'rule:rul_off:agt_down'],
        'the silenced alert is not notified',
      );

      await push(store, 'agt_down', [
        {
          seq: ++seq,
          kind: 'alert',
          ts: now - 5,
          name: 'disk.full',
          value: 50,
          attrs: { state: 'resolved' },
          source: 'plugin:disk',
        },
      ]);
      await engine.evaluate();
      await engine.evaluate();
      const edgeHistory = await store.alerts.queryTransitions({
        alertKey: 'edge:agt_down:disk.full',
        limit: 10,
      });
      assert.deepEqual(
        edgeHistory.transitions.map((t) => t.to),
        ['resolved', 'firing'],
        'each edge record counts once',
      );

      await rule('rul_off', { type: 'agent_offline', name: 'agent down', enabled: false });
      await engine.evaluate();
      const off = (await store.alerts.listAlerts({ ruleId: 'rul_off' })).map((a) => a.state);
      assert.deepEqual(off, ['resolved'], 'a disabled rule resolves what it had firing');
    } finally {
      await engine.close();
    }
  });
});

test('alerts: a channel with repeat_interval is reminded while the alert keeps firing, and only then', async () => {
  await withTempStore(async (store) => {
    await addAgent(store, 'agt_a', 0);
    let now = 1_000_000;
    const engine = new AlertEngine({
      store,
      logger,
      offlineAfterMs: 1000,
      intervalMs: 3_600_000,
      now: () => now,
    });
    try {
      await store.alerts.putRule({
        id: 'rul_off',
        name: 'agent down',
        spec: { type: 'agent_offline', name: 'agent down' },
        createdAt: 0,
        updatedAt: 0,
      });
      await store.alerts.putChannel({
        id: 'chn_1',
        spec: { name: 'pager', type: 'webhook', url: 'http://127.0.0.1:1/', repeat_interval: '1m' },
        createdAt: 0,
      });
      await store.alerts.putChannel({
        id: 'chn_2',
        spec: { name: 'chat', type: 'slack', url: 'http://127.0.0.1:1/', send_resolved: false },
        createdAt: 0,
      });
      const sent = async (channel: string) =>
        (await store.alerts.listNotifications(50))
          .filter((n) => n.channelId === channel)
          .map((n) => {
            const event = n.payload as { status: string; repeat: boolean };
            return event.repeat ? `${event.status}(repeat)` : event.status;
          })
          .reverse();
      await engine.evaluate();
      now += 30_000;
      await engine.evaluate();
      assert.deepEqual(await sent('chn_1'), ['firing']);
      now += 31_000;
      await engine.evaluate();
      await engine.evaluate();
      assert.deepEqual(await sent('chn_1'), ['firing', 'firing(repeat)']);
      assert.deepEqual(await sent('chn_2'), ['firing'], 'no repeat_interval: no reminders');
      await store.recordHeartbeat({ agentId: 'agt_a', at: now, version: '0.1.0', status: {} });
      await engine.evaluate();
      assert.deepEqual(await sent('chn_1'), ['firing', 'firing(repeat)', 'resolved']);
      assert.deepEqual(await sent('chn_2'), ['firing'], 'send_resolved: false');
    } finally {
      await engine.close();
    }
  });
});

test('alerts: the edge-alert cursor moves past records that are not alerts, so retention is not held forever', async () => {
  await withTempStore(async (store) => {
    await addAgent(store, 'agt_a', 0);
    const engine = new AlertEngine({ store, logger, offlineAfterMs: 1e9, intervalMs: 3_600_000 });
    try {
      await push(store, 'agt_a', [metric('cpu', 1, 0.5), metric('cpu', 2, 0.6)]);
      await engine.evaluate();
      assert.equal(await store.alerts.getCursor(EDGE_CURSOR), await store.alerts.maxRecordId());
      // An alert record after them is still read once, then the cursor moves on again.
      await push(store, 'agt_a', [
        { seq: ++seq, kind: 'alert', ts: 3, name: 'disk full', attrs: {}, source: 'plugin:disk' },
        metric('cpu', 4, 0.7),
      ]);
      await engine.evaluate();
      await engine.evaluate();
      const alerts = await store.alerts.listAlerts();
      assert.deepEqual(
        alerts.map((a) => [a.key, a.state]),
        [['edge:agt_a:disk full', 'firing']],
      );
      const { transitions } = await store.alerts.queryTransitions({ limit: 10 });
      assert.equal(transitions.length, 1, 'the alert record was read once');
      assert.equal(await store.alerts.getCursor(EDGE_CURSOR), await store.alerts.maxRecordId());
    } finally {
      await engine.close();
    }
  });
});
