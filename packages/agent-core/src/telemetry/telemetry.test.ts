import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../config/index.ts';
import { ControlClient } from '../control/index.ts';
import type { OutpostError } from '../errors.ts';
import { Agent } from '../lifecycle/index.ts';
import { type AgentSnapshot, AgentTelemetry, MetricsListener, parseLoopbackListen } from './index.ts';

const logger = pino({ level: 'silent' });

function snapshot(overrides: Partial<AgentSnapshot> = {}): AgentSnapshot {
  return {
    agent: { version: '9.9.9', configVersion: 'sha256:abc' },
    collector: { registered: true, lastHeartbeatAt: 1_700_000_000_000 },
    queue: {
      depth: 42,
      bytes: 4096,
      batches: 2,
      leased: 1,
      oldestTs: 1_700_000_000_000,
      enqueued: 500,
      acked: 458,
      dropped: { queue_full: 7 },
      deadLetter: 3,
    },
    sender: {
      batchesSent: 10,
      recordsSent: 458,
      batchesFailed: 4,
      retries: 3,
      deadLettered: 1,
      bytesRaw: 90_000,
      bytesSent: 9_000,
      lastSendAt: 1_700_000_005_000,
      consecutiveFailures: 0,
    },
    inputs: [
      { name: 'system', runs: 5, errors: 1, skipped: 0, records: 120, lastDurationMs: 250 },
      { name: 'processes', runs: 5, errors: 0, skipped: 2, records: 30, lastDurationMs: null },
    ],
    accept: { refused: { queue_full: 2, disk_full: 0, io_error: 0 }, pushed: 6 },
    ...overrides,
  };
}

/** The sample lines of one metric, as "name{labels} value". */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last error: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('telemetry: one scrape renders the agent snapshot as outpost_agent_* metrics with HELP text', async () => {
  let current = snapshot();
  let reads = 0;
  const telemetry = new AgentTelemetry({
    snapshot: () => {
      reads += 1;
      return current;
    },
    now: () => 1_700_000_060_000,
  });
  const text = await telemetry.metrics();
  assert.equal(reads, 1, 'one snapshot per scrape, whatever the number of metrics');
  assert.match(telemetry.contentType, /^text\/plain; version=0\.0\.4/);

  assert.deepEqual(samples(text, 'outpost_agent_input_records_total'), [
    'outpost_agent_input_records_total{input="system"} 120',
    'outpost_agent_input_records_total{input="processes"} 30',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_queue_records'), ['outpost_agent_queue_records 42']);
  assert.deepEqual(samples(text, 'outpost_agent_queue_oldest_age_seconds'), [
    'outpost_agent_queue_oldest_age_seconds 60',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_queue_dropped_records_total'), [
    'outpost_agent_queue_dropped_records_total{reason="queue_full"} 7',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_records_refused_total'), [
    'outpost_agent_records_refused_total{reason="queue_full"} 2',
    'outpost_agent_records_refused_total{reason="disk_full"} 0',
    'outpost_agent_records_refused_total{reason="io_error"} 0',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_send_uncompressed_bytes_total'), [
    'outpost_agent_send_uncompressed_bytes_total 90000',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_send_bytes_total'), ['outpost_agent_send_bytes_total 9000']);
  assert.deepEqual(samples(text, 'outpost_agent_send_last_success_timestamp_seconds'), [
    'outpost_agent_send_last_success_timestamp_seconds 1700000005',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_input_last_duration_seconds'), [
    'outpost_agent_input_last_duration_seconds{input="system"} 0.25',
  ]);
  assert.match(text, /^# HELP outpost_agent_queue_dead_letter_records \S.+$/m);
  assert.match(text, /^# TYPE outpost_agent_send_retries_total counter$/m);
  assert.match(
    text,
    /^outpost_agent_info\{version="9\.9\.9",node_version="[\d.]+",config_version="sha256:abc"\} 1$/m,
  );
  // prom-client's process metrics, on this registry with the agent's prefix.
  assert.match(text, /^outpost_agent_process_cpu_seconds_total \d/m);
  assert.match(text, /^outpost_agent_process_resident_memory_bytes \d/m);
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP '))
      assert.match(line, /^# HELP outpost_agent_\w+ \S/, 'every metric has help text');
  }

  // A reload that removed an input, before the sender exists again: stale series go away and
  // figures that do not exist read 0.
  current = snapshot({
    inputs: [current.inputs[0]!],
    sender: null,
    queue: { ...current.queue, oldestTs: null },
  });
  const next = await telemetry.metrics();
  assert.deepEqual(samples(next, 'outpost_agent_input_records_total'), [
    'outpost_agent_input_records_total{input="system"} 120',
  ]);
  assert.deepEqual(samples(next, 'outpost_agent_send_batches_total'), ['outpost_agent_send_batches_total 0']);
  assert.deepEqual(samples(next, 'outpost_agent_queue_oldest_age_seconds'), [
    'outpost_agent_queue_oldest_age_seconds 0',
  ]);
});

test('telemetry: others add their own collectors on the registry', async () => {
  const { Gauge } = await import('prom-client');
  const telemetry = new AgentTelemetry({ snapshot: () => snapshot() });
  const heap = { 'plugin-a': 1024 };
  new Gauge({
    name: 'outpost_agent_plugin_heap_bytes',
    help: 'Heap used by each plugin isolate',
    labelNames: ['plugin'],
    registers: [telemetry.registry],
    collect() {
      for (const [plugin, bytes] of Object.entries(heap)) this.set({ plugin }, bytes);
    },
  });
  assert.deepEqual(samples(await telemetry.metrics(), 'outpost_agent_plugin_heap_bytes'), [
    'outpost_agent_plugin_heap_bytes{plugin="plugin-a"} 1024',
  ]);
});

test('telemetry: metrics.listen takes loopback host:port only', () => {
  assert.deepEqual(parseLoopbackListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseLoopbackListen('[::1]:9464'), { host: '::1', port: 9464 });
  assert.deepEqual(parseLoopbackListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.match(String(parseLoopbackListen('0.0.0.0:9464')), /"0\.0\.0\.0" is not a loopback address/);
  assert.match(String(parseLoopbackListen('10.0.0.5:9464')), /not a loopback address/);
  assert.match(String(parseLoopbackListen('9464')), /expected host:port on loopback/);
  assert.match(String(parseLoopbackListen('127.0.0.1:70000')), /at most 65535/);

  assert.throws(
    () => parseConfig('metrics:\n  listen: 0.0.0.0:9464\n', { path: '/etc/outpost/agent.yaml', env: {} }),
    (err: Error) => {
      assert.match(err.message, /agent\.yaml:2:\d+.*metrics\.listen/);
      assert.match(err.message, /not a loopback address/);
      return true;
    },
  );
  const loaded = parseConfig('metrics:\n  listen: 127.0.0.1:9464\n', {
    path: '/etc/outpost/agent.yaml',
    env: {},
  });
  assert.equal(loaded.config.metrics.listen, '127.0.0.1:9464');
  assert.equal(parseConfig('', { path: '/etc/outpost/agent.yaml', env: {} }).config.metrics.listen, null);
});

test('telemetry: the TCP listener serves GET /metrics only, and says why it cannot listen', async (t) => {
  const source = { metrics: async () => 'up 1\n', contentType: 'text/plain; version=0.0.4; charset=utf-8' };
  const listener = await MetricsListener.listen({ listen: '127.0.0.1:0', source, logger });
  t.after(() => listener.close());
  assert.match(listener.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const res = await fetch(listener.url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), source.contentType);
  assert.equal(await res.text(), 'up 1\n');
  assert.equal((await fetch(listener.url.replace('/metrics', '/'))).status, 404);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  await assert.rejects(
    MetricsListener.listen({ listen: `127.0.0.1:${port}`, source, logger }),
    (err: OutpostError) => {
      assert.equal(err.code, 'E_METRICS_LISTEN');
      assert.match(
        err.message,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`),
      );
      return true;
    },
  );
  await assert.rejects(MetricsListener.listen({ listen: '0.0.0.0:0', source, logger }), {
    code: 'E_METRICS_LISTEN',
  });
  const { url } = listener;
  await listener.close();
  await listener.close();
  await assert.rejects(fetch(url));
  assert.throws(() => listener.url, { code: 'E_METRICS_CLOSED' });
});

test('telemetry: a running agent serves its metrics on the control socket and on metrics.listen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-telemetry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'agent.yaml');
  writeFileSync(
    configPath,
    [
      'collector:',
      '  url: http://127.0.0.1:9',
      'agent:',
      `  state_dir: ${join(dir, 'state')}`,
      'inputs:',
      '  system: { enabled: true, interval: 500ms, metrics: [memory] }',
      '  processes: { enabled: false }',
      'metrics:',
      '  listen: 127.0.0.1:0',
      'shutdown:',
      '  grace_period: 0s',
      '',
    ].join('\n'),
  );
  const out = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  out.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
  });
  const agent = await Agent.start({ configPath, env: {}, logger: pino({ level: 'info' }, out) });
  t.after(() => agent.close());
  const url = await until('the "serving self-metrics" line', async () => {
    const line = lines.find((l) => l.msg === 'serving self-metrics');
    return line ? String(line.url) : undefined;
  });

  const client = new ControlClient(agent.config.control.socket);
  t.after(() => client.close());
  const overSocket = await until('records from the system input', async () => {
    const text = await client.text('/metrics');
    const [line] = samples(text, 'outpost_agent_input_records_total');
    return line && Number(line.split(' ')[1]) > 0 ? text : undefined;
  });
  assert.match(overSocket, /^outpost_agent_queue_records \d+$/m);
  assert.match(overSocket, /^outpost_agent_process_resident_memory_bytes \d+$/m);
  assert.match(overSocket, /^outpost_agent_old_space_collections_total \d+$/m);

  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /^outpost_agent_input_records_total\{input="system"\} \d+$/m);

  await agent.close();
  await assert.rejects(fetch(url));
});

test('telemetry: per-stage records in/out/dropped/errors and the resource guard', async () => {
  const telemetry = new AgentTelemetry({
    snapshot: () =>
      snapshot({
        pipeline: [
          { stage: 'drop-debug', type: 'filter', in: 100, out: 60, dropped: 40, errors: 0 },
          { stage: 'parse', type: 'parse', in: 60, out: 60, dropped: 0, errors: 3 },
        ],
        guard: {
          limits: { cpuPercent: 15, memoryBytes: null },
          level: 2,
          actions: { slow_inputs: 2, restore_inputs: 0, pause_plugin: 0, resume_plugins: 0 },
        },
      }),
  });
  const text = await telemetry.metrics();
  assert.deepEqual(samples(text, 'outpost_agent_stage_records_in_total'), [
    'outpost_agent_stage_records_in_total{stage="drop-debug",type="filter"} 100',
    'outpost_agent_stage_records_in_total{stage="parse",type="parse"} 60',
  ]);
  assert.deepEqual(samples(text, 'outpost_agent_stage_records_dropped_total'), [
    'outpost_agent_stage_records_dropped_total{stage="drop-debug",type="filter"} 40',
    'outpost_agent_stage_records_dropped_total{stage="parse",type="parse"} 0',
  ]);
  assert.ok(
    samples(text, 'outpost_agent_stage_records_out_total').includes(
      'outpost_agent_stage_records_out_total{stage="drop-debug",type="filter"} 60',
    ),
  );
  assert.ok(
    samples(text, 'outpost_agent_stage_errors_total').includes(
      'outpost_agent_stage_errors_total{stage="parse",type="parse"} 3',
    ),
  );
  assert.deepEqual(samples(text, 'outpost_agent_guard_level'), ['outpost_agent_guard_level 2']);
  assert.ok(
    samples(text, 'outpost_agent_guard_actions_total').includes(
      'outpost_agent_guard_actions_total{action="slow_inputs"} 2',
    ),
  );
  assert.deepEqual(samples(text, 'outpost_agent_guard_limit_cpu_percent'), [
    'outpost_agent_guard_limit_cpu_percent 15',
  ]);
  // prom-client shows an unset gauge without labels as 0: the documented "no limit".
  assert.deepEqual(samples(text, 'outpost_agent_guard_limit_memory_bytes'), [
    'outpost_agent_guard_limit_memory_bytes 0',
  ]);
});
