import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitMetric, startFleet, startReceiver, tempDir, waitFor } from './harness.ts';

interface Event {
  status: string;
  repeat: boolean;
  alert: { key: string; name: string; value: number; labels: Record<string, string> };
}

test('a threshold rule fires and resolves on real agent data, notified once each; a killed agent goes offline and alerts', async (t) => {
  using dir = tempDir('alerts');
  const hook = await startReceiver();
  t.after(() => hook.close());
  const { collector, agent, agentId } = await startFleet(t, dir.path, {
    collectorConfig: 'alerts:\n  evaluate_interval: 300ms\nagents:\n  offline_after: 3s\n',
  });
  const admin = collector.request;

  const refused = await admin('POST', '/api/v1/alert/rules', {
    type: 'threshold',
    name: 'hot',
    metric: 'x',
    op: 'over',
    threshold: 1,
  });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error?.code, 'E_BAD_BODY');
  assert.match(String(refused.body.error?.message), /^op: expected one of "above", "below"/);

  assert.equal(
    (
      await admin('POST', '/api/v1/alert/notify', {
        name: 'hook',
        type: 'webhook',
        url: `${hook.url}/alerts`,
      })
    ).status,
    201,
  );
  const rule = await admin('POST', '/api/v1/alert/rules', {
    type: 'threshold',
    name: 'room too hot',
    metric: 'test.temperature',
    op: 'above',
    threshold: 50,
    aggregate: 'last',
    window: '1m',
    agent: agentId,
  });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));
  const offline = await admin('POST', '/api/v1/alert/rules', {
    type: 'agent_offline',
    name: 'agent down',
    severity: 'critical',
  });
  assert.equal(offline.status, 201, JSON.stringify(offline.body));

  const emit = (value: number) => emitMetric(agent, 'test.temperature', value);
  const events = () => hook.requests.map((r) => JSON.parse(r.body) as Event);
  const about = (name: string) => events().filter((e) => e.alert.name === name);

  await emit(80);
  const fired = await waitFor('the firing notification', () =>
    about('room too hot').find((e) => e.status === 'firing'),
  );
  assert.equal(fired.alert.value, 80);
  assert.equal(fired.alert.labels.agent, agentId);
  assert.equal(hook.requests[0]?.headers['content-type'], 'application/json');
  const firing = await admin('GET', '/api/v1/alert/alerts?state=firing');
  assert.deepEqual(
    (firing.body.alerts as Array<{ name: string }>).map((a) => a.name),
    ['room too hot'],
  );

  await emit(20);
  const resolved = await waitFor('the resolved notification', () =>
    about('room too hot').find((e) => e.status === 'resolved'),
  );
  assert.equal(resolved.alert.value, 20);
  // More evaluations (timer and ingest) must not notify again: one notification per transition.
  await emit(30);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(
    about('room too hot').map((e) => e.status),
    ['firing', 'resolved'],
  );

  const history = await admin('GET', `/api/v1/alert/history?rule=${rule.body.id}`);
  assert.deepEqual(
    (history.body.transitions as Array<{ from: string; to: string; value: number }>).map(
      (t) => `${t.from}->${t.to}@${t.value}`,
    ),
    ['firing->resolved@20', 'inactive->firing@80'],
  );
  const paged = await admin('GET', `/api/v1/alert/history?rule=${rule.body.id}&limit=1`);
  assert.equal(paged.body.more, true);
  const rest = await admin(
    'GET',
    `/api/v1/alert/history?rule=${rule.body.id}&limit=1&before=${paged.body.next}`,
  );
  assert.equal((rest.body.transitions as Array<{ to: string }>)[0]?.to, 'firing');
  assert.equal((await admin('GET', '/api/v1/alert/history?colour=red')).body.error?.code, 'E_BAD_QUERY');

  await agent.proc.stop('SIGKILL');
  const down = await waitFor(
    'the offline alert',
    () => about('agent down').find((e) => e.status === 'firing' && e.alert.labels.agent === agentId),
    { timeoutMs: 20_000 },
  );
  assert.equal(down.alert.labels.severity, 'critical');
  assert.ok(down.alert.value > 3, `heartbeat age ${down.alert.value}s`);
  const { agents } = await collector.api<{ agents: Array<{ state: string }> }>('/api/v1/agents');
  assert.equal(agents[0]?.state, 'offline');
  assert.equal(about('agent down').length, 1);
  // The receiver answered before the collector marked the row delivered: wait for the counter.
  const scraped = await waitFor('three notifications counted as sent', async () => {
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    return /^outpost_collector_notifications_total\{result="sent"\} 3$/m.test(text) ? text : undefined;
  });
  assert.match(scraped, /^outpost_collector_alerts\{state="firing"\} 1$/m);
  assert.match(scraped, /^outpost_collector_alerts\{state="resolved"\} 1$/m);
});
