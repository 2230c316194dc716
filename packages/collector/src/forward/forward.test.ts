import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCollectorConfig } from '../config/index.ts';
import { isOutpostError } from '../errors.ts';
import type { StoredRecord } from '../store/index.ts';
import { toNdjson, toOtlpLogs, toOtlpMetrics } from './index.ts';

const agents = new Map([['agt_1', { id: 'agt_1', hostname: 'web-1', labels: { env: 'prod' } }]]);
const record = (over: Partial<StoredRecord>): StoredRecord => ({
  id: 1,
  agentId: 'agt_1',
  seq: 1,
  kind: 'metric',
  ts: 1_764_061_199_000,
  name: 'system.cpu.utilization',
  value: 0.25,
  unit: '1',
  body: null,
  attrs: { cpu: 0 },
  source: 'system',
  receivedAt: 1_764_061_200_000,
  ...over,
});

test('forward: OTLP JSON puts metrics in gauges and logs in log records, one resource per agent', () => {
  const records = [
    record({}),
    record({ id: 2, seq: 2, value: 0.5, ts: 1_764_061_200_000 }),
    record({
      id: 3,
      seq: 3,
      kind: 'log',
      name: 'app',
      value: null,
      unit: null,
      body: 'boom',
      attrs: { level: 'error' },
    }),
  ];
  const metrics = toOtlpMetrics(records, agents);
  assert.equal(metrics.resourceMetrics.length, 1);
  const [rm] = metrics.resourceMetrics;
  assert.deepEqual(rm?.resource.attributes.find((a) => a.key === 'host.name')?.value, {
    stringValue: 'web-1',
  });
  assert.deepEqual(rm?.resource.attributes.find((a) => a.key === 'outpost.label.env')?.value, {
    stringValue: 'prod',
  });
  const [metric] = rm?.scopeMetrics[0]?.metrics ?? [];
  assert.equal(metric?.name, 'system.cpu.utilization');
  assert.deepEqual(metric?.gauge.dataPoints, [
    {
      timeUnixNano: '1764061199000000000',
      asDouble: 0.25,
      attributes: [{ key: 'cpu', value: { intValue: '0' } }],
    },
    {
      timeUnixNano: '1764061200000000000',
      asDouble: 0.5,
      attributes: [{ key: 'cpu', value: { intValue: '0' } }],
    },
  ]);
  const logs = toOtlpLogs(records, agents);
  const [log] = logs.resourceLogs[0]?.scopeLogs[0]?.logRecords ?? [];
  assert.equal(log?.severityText, 'ERROR');
  assert.equal(log?.severityNumber, 17);
  assert.deepEqual(log?.body, { stringValue: 'boom' });
  assert.ok(log?.attributes.some((a) => a.key === 'outpost.kind' && a.value.stringValue === 'log'));
  assert.equal(toNdjson(records, agents).trim().split('\n').length, 3);
  assert.equal(JSON.parse(toNdjson(records, agents).split('\n')[0] ?? '').hostname, 'web-1');
});

test('forward: a bad sink in the config names the key', async () => {
  await assert.rejects(
    loadCollectorConfig({
      values: {
        forward: [
          { name: 'ok', type: 'kafka', url: 'ftp://x' },
          { name: 'ok', type: 'http', url: 'http://x' },
        ],
      },
      env: {},
    }),
    (err) => {
      assert.ok(isOutpostError(err, 'E_CONFIG_INVALID'));
      assert.match(err.message, /forward\[0\]\.type/);
      assert.match(err.message, /forward\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/);
      return true;
    },
  );
  await assert.rejects(
    loadCollectorConfig({
      values: { forward: [{ name: 'a', type: 'http', url: 'http://x', batchsize: 5 }] },
      env: {},
    }),
    /forward\[0\]\.batchsize: unknown key \(did you mean "batch_size"\?\)/,
  );
  const config = await loadCollectorConfig({
    values: {
      forward: [{ name: 'otel', type: 'otlp', url: 'http://otel:4318', retry: { max_backoff: '10s' } }],
    },
    env: {},
  });
  assert.deepEqual(config.forward[0], {
    name: 'otel',
    type: 'otlp',
    url: 'http://otel:4318',
    headers: {},
    kinds: ['metric', 'log', 'event', 'alert'],
    batchSize: 500,
    timeoutMs: 10_000,
    initialBackoffMs: 1000,
    maxBackoffMs: 10_000,
  });
});
