import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { metric, startSession } from '../../test/session.ts';
import { openSqliteStore } from '../store/index.ts';
import { CollectorTelemetry } from './index.ts';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('collector telemetry: /metrics counts stored batches, dedup hits, rejections and agents by state', async (t) => {
  const session = await startSession();
  t.after(() => session.close());
  const agent = await session.register();
  assert.equal((await session.sendBatch(agent, 1, [metric(1, 1000), metric(2, 2000)])).status, 200);
  const replay = await session.sendBatch(agent, 1, [metric(1, 1000), metric(2, 2000)]);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal((await session.sendBatch(agent, 2, [metric(3, 3000)])).status, 200);
  assert.equal(
    (await session.request('GET', '/api/v1/agents', { auth: 'Bearer wrong-token-wrong-token' })).status,
    401,
  );
  const heartbeat = await session.request('POST', '/api/v1/agent/heartbeat', {
    auth: agent.auth,
    body: {
      version: '0.1.0',
      uptimeSec: 1,
      configVersion: 'x',
      queue: { depth: 0, bytes: 0, dropped: 0, deadLetter: 0 },
      plugins: [],
    },
  });

  assert.equal(heartbeat.status, 200, JSON.stringify(heartbeat.json));
  const degraded = await session.register('web-2');
  const refused = await session.request('POST', '/api/v1/agent/heartbeat', {
    auth: degraded.auth,
    body: {
      version: '0.1.0',
      remoteConfig: { version: null, error: { version: '3', code: 'E_CONFIG', message: 'bad interval' } },
    },
  });
  assert.equal(refused.status, 200, JSON.stringify(refused.json));
  const revoked = await session.register('web-3');
  assert.equal(
    (await session.request('POST', `/api/v1/agents/${revoked.agentId}/revoke`, { auth: session.admin }))
      .status,
    200,
  );

  const res = await fetch(`${session.collector.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.equal(sample(text, 'outpost_collector_ingest_batches_total'), 2);
  assert.equal(sample(text, 'outpost_collector_ingest_records_total'), 3);
  assert.equal(sample(text, 'outpost_collector_dedup_hits_total'), 1);
  assert.equal(sample(text, 'outpost_collector_agent_registrations_total'), 3);
  assert.equal(sample(text, 'outpost_collector_http_rejected_total{route="/api/v1/agents",status="401"}'), 1);
  assert.equal(sample(text, 'outpost_collector_heartbeats_total'), 2);
  assert.equal(sample(text, 'outpost_collector_agents{state="online"}'), 1);
  assert.equal(sample(text, 'outpost_collector_agents{state="degraded"}'), 1);
  assert.equal(sample(text, 'outpost_collector_agents{state="revoked"}'), 1);
  assert.equal(sample(text, 'outpost_collector_agents{state="offline"}'), 0);
  assert.match(text, /^outpost_collector_process_resident_memory_bytes \d+$/m);
  assert.match(text, /^# HELP outpost_collector_dedup_hits_total \S/m);
});

test('collector telemetry: storage size is the database file plus its WAL', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-telemetry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'collector.db');
  const store = await openSqliteStore({ file });
  t.after(() => store.close());
  await store.registerAgent({
    id: 'a1',
    hostname: 'h',
    labels: {},
    version: '0',
    secretSha256: 'x',
    registeredAt: 1,
  });
  const telemetry = new CollectorTelemetry({ store, offlineAfterMs: 30_000, storageFile: file });
  const text = await telemetry.metrics();
  const wal = (() => {
    try {
      return statSync(`${file}-wal`).size;
    } catch {
      return 0;
    }
  })();
  assert.equal(sample(text, 'outpost_collector_storage_bytes'), statSync(file).size + wal);
  assert.equal(sample(text, 'outpost_collector_agents{state="offline"}'), 1);
  assert.equal(sample(text, 'outpost_collector_agents{state="online"}'), 0);
  assert.equal(sample(text, 'outpost_collector_agents{state="degraded"}'), 0);
  assert.equal(sample(text, 'outpost_collector_agents{state="revoked"}'), 0);
});
