import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, allRecords, startFleet, startReceiver, tempDir, waitFor } from './harness.ts';

const EVENTS = 30;
const METRICS = 10;

test('a sink that is down for a while, across a collector restart, gets everything once when it comes back', async (t) => {
  using dir = tempDir('forward');
  // Reserve a port for the sink, then leave it closed: the sink is down.
  const probe = await startReceiver();
  const port = probe.port;
  await probe.close();
  const otlp = await startReceiver();
  t.after(() => otlp.close());
  const fleet = await startFleet(t, dir.path, {
    collectorConfig: `forward:
  - name: archive
    type: http
    url: http://127.0.0.1:${port}/ingest
    batch_size: 7
    retry:
      initial_backoff: 100ms
      max_backoff: 400ms
  - name: otel
    type: otlp
    url: ${otlp.url}/otlp
`,
  });
  const { agent, agentId } = fleet;
  let { collector } = fleet;

  const lines = [
    ...Array.from({ length: EVENTS }, (_, i) =>
      JSON.stringify({ kind: 'event', name: 'job.done', attrs: { n: i }, source: 'test' }),
    ),
    ...Array.from({ length: METRICS }, (_, i) =>
      JSON.stringify({
        kind: 'metric',
        name: 'jobs.queued',
        value: i,
        unit: '{job}',
        attrs: {},
        source: 'test',
      }),
    ),
  ];
  const file = join(dir.path, 'records.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const out = await agentctl(['emit', '--file', file, '--socket', agent.socket]);
  assert.equal(out.code, 0, out.stderr);

  await waitFor('every record stored at the collector', async () =>
    (await allRecords(collector, agentId)).length === EVENTS + METRICS ? true : undefined,
  );
  const scrape = async () => (await fetch(`${collector.url}/metrics`)).text();
  const metric = (text: string, name: string) =>
    Number(new RegExp(`^${name}\\{sink="archive"\\} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  await waitFor('failed sends counted while the sink is down', async () => {
    const text = await scrape();
    return metric(text, 'outpost_collector_forward_failed_requests_total') > 0 &&
      metric(text, 'outpost_collector_forward_lag_records') === EVENTS + METRICS
      ? true
      : undefined;
  });

  // The collector restarts while the sink is still down: the cursor is in the database.
  collector = await fleet.restartCollector();

  const sink = await startReceiver(port);
  t.after(() => sink.close());
  const received = await waitFor('the sink to get every record', () => {
    const rows = sink.requests.flatMap((r) =>
      r.body
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: number; seq: number; kind: string; agentId: string }),
    );
    return rows.length >= EVENTS + METRICS ? rows : undefined;
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(received.length, EVENTS + METRICS, 'nothing sent twice');
  assert.deepEqual(
    received.map((r) => r.seq),
    Array.from({ length: EVENTS + METRICS }, (_, i) => i + 1),
  );
  assert.ok(received.every((r) => r.agentId === agentId));
  assert.ok(sink.requests.every((r) => r.headers['content-type'] === 'application/x-ndjson'));
  const keys = sink.requests.map((r) => String(r.headers['idempotency-key']));
  assert.equal(new Set(keys).size, keys.length);
  assert.match(keys[0] ?? '', /^outpost-archive-1-\d+$/);
  await waitFor('lag back to zero', async () =>
    metric(await scrape(), 'outpost_collector_forward_lag_records') === 0 ? true : undefined,
  );
  assert.equal(metric(await scrape(), 'outpost_collector_forward_sent_records_total'), EVENTS + METRICS);

  // The OTLP sink was up all along: logs and metrics in OTLP/HTTP JSON shape.
  const logs = otlp.requests.filter((r) => r.url === '/otlp/v1/logs').map((r) => JSON.parse(r.body));
  const metrics = otlp.requests.filter((r) => r.url === '/otlp/v1/metrics').map((r) => JSON.parse(r.body));
  type Otlp = { resourceLogs?: Array<{ scopeLogs: Array<{ logRecords: unknown[] }> }> } & {
    resourceMetrics?: Array<{
      scopeMetrics: Array<{ metrics: Array<{ gauge: { dataPoints: unknown[] } }> }>;
    }>;
  };
  const logRecords = (logs as Otlp[]).flatMap((b) =>
    (b.resourceLogs ?? []).flatMap((rl) => rl.scopeLogs.flatMap((s) => s.logRecords)),
  ) as Array<{ body: { stringValue: string } }>;
  const points = (metrics as Otlp[]).flatMap((b) =>
    (b.resourceMetrics ?? []).flatMap((rm) =>
      rm.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.gauge.dataPoints)),
    ),
  ) as Array<{ timeUnixNano: string }>;
  assert.equal(logRecords.length, EVENTS);
  assert.equal(points.length, METRICS);
  assert.equal(logRecords[0]?.body.stringValue, 'job.done');
  assert.match(points[0]?.timeUnixNano ?? '', /^\d{19}$/);
  const resource = logs[0].resourceLogs[0].resource.attributes as Array<{
    key: string;
    value: { stringValue?: string };
  }>;
  assert.equal(resource.find((a) => a.key === 'outpost.agent.id')?.value.stringValue, agentId);
  assert.ok(resource.some((a) => a.key === 'host.name'));
});
