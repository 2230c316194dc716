import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturingLogger, logLine, pipelineOf, statsOf, T0 } from './fixtures.ts';
import { PARSE_ERROR_ATTR } from './index.ts';

test('parse json: nested fields flattened with dots, arrays kept as JSON, timestamp and level set', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'parse',
      format: 'json',
      timestamp: { field: 'time', format: 'rfc3339' },
      level: { field: 'severity', map: { W: 'warn' } },
    },
  ]);
  const line =
    '{"time":"2025-01-15T12:00:03.250Z","severity":"W","msg":"slow query","db":{"table":"orders","rows":1200},' +
    '"tags":["a","b"],"retry":false,"trace":null}';
  const input = logLine(line);
  const [out] = await pipeline.process([input]);
  assert.ok(out);
  assert.equal(out.ts, Date.parse('2025-01-15T12:00:03.250Z'));
  assert.equal(out.body, line);
  assert.deepEqual(out.attrs, {
    'log.file.path': '/var/log/app.log',
    time: '2025-01-15T12:00:03.250Z',
    severity: 'W',
    level: 'warn',
    msg: 'slow query',
    'db.table': 'orders',
    'db.rows': 1200,
    tags: '["a","b"]',
    retry: false,
  });
  assert.deepEqual(input.attrs, { 'log.file.path': '/var/log/app.log' }, 'the input record is not mutated');
  await pipeline.close();
});

test('parse json: pino numeric levels and unix_ms timestamps', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'parse',
      format: 'json',
      timestamp: { field: 'time', format: 'unix_ms' },
      level: { field: 'level' },
    },
  ]);
  const [out] = await pipeline.process([logLine('{"level":50,"time":1736942400123,"pid":7,"msg":"boom"}')]);
  assert.equal(out?.ts, 1736942400123);
  assert.equal(out?.attrs.level, 'error');
  assert.equal(out?.attrs.pid, 7);
  await pipeline.close();
});

test('parse logfmt: quoted values with escapes, bare keys, unix_s timestamps', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'parse',
      format: 'logfmt',
      timestamp: { field: 'ts', format: 'unix_s' },
      level: { field: 'level' },
    },
  ]);
  const [out] = await pipeline.process([
    logLine(
      'ts=1736942401.5 level=warning msg="retrying \\"upstream\\" call" attempt=3 path=/api?x=1 cached',
    ),
  ]);
  assert.equal(out?.ts, 1736942401500);
  assert.deepEqual(out?.attrs, {
    'log.file.path': '/var/log/app.log',
    ts: '1736942401.5',
    level: 'warn',
    msg: 'retrying "upstream" call',
    attempt: '3',
    path: '/api?x=1',
    cached: true,
  });
  await pipeline.close();
});

const NGINX =
  '^(?<remote_addr>\\S+) - (?<remote_user>\\S+) \\[(?<time_local>[^\\]]+)\\] "(?<method>\\S+) (?<path>\\S+) (?<protocol>[^"]+)" ' +
  '(?<status>\\d{3}) (?<body_bytes_sent>\\d+) "(?<referer>[^"]*)" "(?<user_agent>[^"]*)"(?: (?<request_time>[\\d.]+))?$';

test('parse regex: nginx access lines with named groups and CLF timestamps', async () => {
  const { pipeline } = pipelineOf([
    { type: 'parse', format: 'regex', pattern: NGINX, timestamp: { field: 'time_local', format: 'clf' } },
  ]);
  const line =
    '203.0.113.9 - - [15/Jan/2025:13:00:01 +0100] "GET /api/orders?page=2 HTTP/1.1" 200 5120 "-" "curl/8.5.0" 0.153';
  const [out] = await pipeline.process([logLine(line, {}, '/var/log/nginx/access.log')]);
  assert.equal(out?.ts, Date.UTC(2025, 0, 15, 12, 0, 1));
  assert.equal(out?.attrs.method, 'GET');
  assert.equal(out?.attrs.path, '/api/orders?page=2');
  assert.equal(out?.attrs.status, '200');
  assert.equal(out?.attrs.request_time, '0.153');
  assert.equal(out?.attrs.remote_user, '-');
  await pipeline.close();
});

test('parse: an unparsable line is kept unchanged, flagged, counted and logged once', async () => {
  const { logger, lines } = capturingLogger();
  const { pipeline } = pipelineOf(
    [
      { type: 'parse', name: 'app-json', format: 'json' },
      { type: 'parse', name: 'kv', format: 'logfmt', match: { name: '/var/log/kv.log' } },
    ],
    { logger },
  );
  const garbage = [
    logLine('Exception in thread "main" java.lang.NullPointerException'),
    logLine('{"truncated": "line'),
    logLine('[1,2,3]'),
  ];
  const good = logLine('{"msg":"ok"}');
  const out = await pipeline.process([...garbage, good]);
  assert.equal(out.length, 4, 'never dropped');
  for (const [i, record] of garbage.entries()) {
    const flagged = out[i];
    assert.equal(flagged?.body, record.body);
    assert.equal(flagged?.ts, T0);
    assert.deepEqual(
      { ...flagged?.attrs, [PARSE_ERROR_ATTR]: undefined },
      { ...record.attrs, [PARSE_ERROR_ATTR]: undefined },
    );
  }
  assert.equal(out[0]?.attrs[PARSE_ERROR_ATTR], 'not a JSON object');
  assert.equal(out[1]?.attrs[PARSE_ERROR_ATTR], 'invalid JSON');
  assert.equal(out[3]?.attrs[PARSE_ERROR_ATTR], undefined);
  assert.deepEqual(statsOf(pipeline, 'app-json'), {
    stage: 'app-json',
    type: 'parse',
    in: 4,
    out: 4,
    dropped: 0,
    errors: 3,
  });

  const [kv] = await pipeline.process([logLine('level=info msg="unterminated', {}, '/var/log/kv.log')]);
  assert.equal(kv?.attrs[PARSE_ERROR_ATTR], 'logfmt: unterminated quoted value for "msg"');
  assert.equal(statsOf(pipeline, 'kv').errors, 1);

  const warnings = lines.filter((l) => l.processor === 'app-json' && l.level === 40);
  assert.deepEqual(
    warnings.map((w) => w.msg),
    [
      `cannot parse a line: not a JSON object; kept with attr ${PARSE_ERROR_ATTR}`,
      `cannot parse a line: invalid JSON; kept with attr ${PARSE_ERROR_ATTR}`,
    ],
    'each reason is logged once, without the line itself',
  );
  await pipeline.close();
});

test('parse: a bad timestamp keeps the record with its fields and flags it; records without a body pass', async () => {
  const { pipeline } = pipelineOf([
    { type: 'parse', name: 'p', format: 'json', timestamp: { field: 'time', format: 'iso8601' } },
  ]);
  const metric = {
    kind: 'metric' as const,
    ts: T0,
    name: 'system.cpu.utilization',
    value: 0.5,
    attrs: {},
    source: 'system',
  };
  const out = await pipeline.process([
    logLine('{"time":"yesterday","msg":"x"}'),
    logLine('{"msg":"no time"}'),
    metric,
  ]);
  assert.equal(out[0]?.ts, T0);
  assert.equal(out[0]?.attrs.msg, 'x');
  assert.equal(out[0]?.attrs[PARSE_ERROR_ATTR], 'timestamp field "time" is not iso8601');
  assert.equal(out[1]?.attrs[PARSE_ERROR_ATTR], 'timestamp field "time" is missing');
  assert.equal(out[2], metric, 'a record without a body passes untouched');
  assert.equal(statsOf(pipeline, 'p').errors, 2);
  await pipeline.close();
});
