import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logLine, metric, pipelineOf } from './fixtures.ts';

test('transform: rename, add and remove attrs without touching the input record', async () => {
  const { pipeline } = pipelineOf([
    {
      type: 'transform',
      rename: { remote_addr: 'client.address', status: 'http.response.status_code' },
      add: { env: 'prod', team: 'payments' },
      remove: ['remote_user', 'referer'],
    },
  ]);
  const input = logLine('x', { remote_addr: '203.0.113.9', remote_user: '-', referer: '-', status: '200' });
  const [out] = await pipeline.process([input]);
  assert.deepEqual(out?.attrs, {
    'log.file.path': '/var/log/app.log',
    'client.address': '203.0.113.9',
    'http.response.status_code': '200',
    env: 'prod',
    team: 'payments',
  });
  assert.equal(input.attrs.remote_addr, '203.0.113.9');
  assert.equal(input.attrs.env, undefined);
  await pipeline.close();
});

test('transform: redacts a token in the body and in attrs parsed from it, so it never leaves the host', async () => {
  const { pipeline } = pipelineOf([
    { type: 'parse', format: 'logfmt' },
    {
      type: 'transform',
      redact: [
        { pattern: 'Bearer [A-Za-z0-9._~+/-]+=*' },
        { pattern: '(password=)\\S+', replacement: '$1***' },
        { pattern: 'sk_live_[0-9a-zA-Z]{8,}', replacement: '<stripe-key>' },
      ],
    },
  ]);
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl';
  const line = `method=POST path=/login auth="Bearer ${token}" note="retry password=hunter2 sk_live_4eC39HqLyjWDarjtT1zdp7dc"`;
  const clean = logLine('level=info msg=ok');
  const [out, untouched] = await pipeline.process([logLine(line), clean]);
  assert.ok(out);
  const everything = JSON.stringify(out);
  assert.ok(!everything.includes(token), everything);
  assert.ok(!everything.includes('hunter2'), everything);
  assert.ok(!everything.includes('sk_live_'), everything);
  assert.equal(out.attrs.auth, '[REDACTED]');
  assert.equal(out.attrs.note, 'retry password=*** <stripe-key>');
  assert.equal(out.attrs.path, '/login');
  assert.match(out.body as string, /auth="\[REDACTED\]" note="retry password=\*\*\* <stripe-key>"$/);
  assert.deepEqual(untouched?.attrs, { 'log.file.path': '/var/log/app.log', level: 'info', msg: 'ok' });
  await pipeline.close();
});

test('transform: a record nothing applies to passes as the same object', async () => {
  const { pipeline } = pipelineOf([{ type: 'transform', redact: { pattern: 'secret-\\d+' } }]);
  const m = metric('system.cpu.utilization', 0.2, { cpu: 'cpu0' });
  const [out] = await pipeline.process([m]);
  assert.equal(out, m);
  await pipeline.close();
});
