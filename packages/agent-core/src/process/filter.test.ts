import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logLine, metric, pipelineOf, statsOf } from './fixtures.ts';

test('filter: keep by level minimum after parsing, records without a level do not pass keep', async () => {
  const { pipeline } = pipelineOf([
    { type: 'parse', format: 'json', level: { field: 'level' } },
    { type: 'filter', name: 'warn+', keep: { level: 'warn' } },
  ]);
  const out = await pipeline.process([
    logLine('{"level":"debug","msg":"cache hit"}'),
    logLine('{"level":"INFO","msg":"started"}'),
    logLine('{"level":"WARNING","msg":"disk 91%"}'),
    logLine('{"level":"error","msg":"upstream timed out"}'),
    logLine('{"msg":"no level"}'),
  ]);
  assert.deepEqual(
    out.map((r) => r.attrs.msg),
    ['disk 91%', 'upstream timed out'],
  );
  assert.deepEqual(statsOf(pipeline, 'warn+'), {
    stage: 'warn+',
    type: 'filter',
    in: 5,
    out: 2,
    dropped: 3,
    errors: 0,
  });
  await pipeline.close();
});

test('filter: drop by body regex, attrs equality and regex, name glob, kind and source', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'filter',
      drop: [
        { body: 'GET /healthz' },
        { attrs: { status: 404, path: { regex: '^/static/' } } },
        { kind: 'metric', name: 'system.network.*', source: 'system' },
      ],
    },
  ]);
  const records = [
    logLine('10.0.0.1 "GET /healthz HTTP/1.1" 200'),
    logLine('static miss', { status: '404', path: '/static/app.js' }),
    logLine('api miss', { status: '404', path: '/api/users/9' }),
    logLine('static ok', { status: 200, path: '/static/app.js' }),
    metric('system.network.io', 1024),
    metric('system.cpu.utilization', 0.4),
    metric('system.network.io', 1024, {}, 'plugin:netstat'),
  ];
  const out = await pipeline.process(records);
  assert.deepEqual(out, [records[2], records[3], records[5], records[6]]);
  assert.equal(statsOf(pipeline, 'filter#0').dropped, 3);
  await pipeline.close();
});

test('filter: keep and drop together; a list of conditions matches any of them', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'filter',
      keep: [{ name: '/var/log/nginx/*.log' }, { source: 'plugin:*' }],
      drop: { attrs: { env: 'staging' } },
    },
  ]);
  const nginx = logLine('a', {}, '/var/log/nginx/access.log');
  const staging = logLine('b', { env: 'staging' }, '/var/log/nginx/error.log');
  const plugin = { ...metric('redis.clients', 3), source: 'plugin:redis' };
  const other = logLine('c', {}, '/var/log/syslog');
  const nested = logLine('d', {}, '/var/log/nginx/old/access.log');
  assert.deepEqual(await pipeline.process([nginx, staging, plugin, other, nested]), [nginx, plugin]);
  await pipeline.close();
});
