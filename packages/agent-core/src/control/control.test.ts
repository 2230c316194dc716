import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { OutpostError } from '../errors.ts';
import { ControlClient, ControlServer } from './index.ts';

const logger = pino({ level: 'silent' });

function socketDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('control: routes answer JSON over a unix socket only the owner can open', async (t) => {
  const socketPath = join(socketDir(t), 'agent.sock');
  const server = await ControlServer.listen({
    socketPath,
    routes: {
      'GET /v1/status': () => ({ ok: true }),
      'POST /v1/reload': () => {
        throw new OutpostError('E_CONFIG_INVALID', 'agent.yaml:3:1: queue.policy: bad');
      },
    },
    logger,
  });
  t.after(() => server.close());
  assert.equal(statSync(socketPath).mode & 0o777, 0o600);

  const client = new ControlClient(socketPath);
  t.after(() => client.close());
  assert.deepEqual(await client.get('/v1/status'), { ok: true });
  await assert.rejects(client.post('/v1/reload'), (err: OutpostError) => {
    assert.equal(err.code, 'E_CONTROL_REQUEST');
    assert.match(err.message, /agent\.yaml:3:1: queue\.policy: bad/);
    return true;
  });
  await assert.rejects(client.get('/v1/nope'), /404 to \/v1\/nope: no control route GET \/v1\/nope/);
});

test('control: a second agent on the same socket is refused; a stale socket file is replaced', async (t) => {
  const dir = socketDir(t);
  const socketPath = join(dir, 'agent.sock');
  const first = await ControlServer.listen({ socketPath, routes: {}, logger });
  await assert.rejects(ControlServer.listen({ socketPath, routes: {}, logger }), {
    code: 'E_ALREADY_RUNNING',
  });
  await first.close();
  await first.close();

  // What a kill -9 leaves behind: a socket path nobody listens on.
  writeFileSync(socketPath, '');
  const next = await ControlServer.listen({ socketPath, routes: { 'GET /v1/status': () => 'up' }, logger });
  t.after(() => next.close());
  const client = new ControlClient(socketPath);
  t.after(() => client.close());
  assert.equal(await client.get('/v1/status'), 'up');
});

test('control: the client names the socket and the fix when no agent listens', async (t) => {
  const socketPath = join(socketDir(t), 'agent.sock');
  const client = new ControlClient(socketPath);
  t.after(() => client.close());
  await assert.rejects(client.get('/v1/status'), (err: OutpostError) => {
    assert.equal(err.code, 'E_AGENT_NOT_RUNNING');
    assert.match(err.message, new RegExp(`no outpost-agent is listening on ${socketPath} \\(ENOENT\\)`));
    return true;
  });
});

test('control: bodies of many chunks are read whole, also when a character spans two chunks', async (t) => {
  const socketPath = join(socketDir(t), 'agent.sock');
  const server = await ControlServer.listen({
    socketPath,
    routes: { 'POST /v1/echo': (req) => req.body },
    logger,
    maxBodyBytes: 2 * 1024 * 1024,
  });
  t.after(() => server.close());
  const client = new ControlClient(socketPath);
  t.after(() => client.close());
  // 3-byte and 4-byte characters: socket reads of 64 KiB cut some of them in two.
  const text = (n: number) => `€ü😀${n}`.repeat(Math.ceil(n / 10));
  // Big, smaller, then bigger again: the join buffer is reused and grown.
  for (const n of [300_000, 1_000, 90_000, 1_000_000]) {
    const body = { text: text(n), n };
    assert.deepEqual(await client.post('/v1/echo', body), body);
  }
  assert.deepEqual(await client.postJson('/v1/echo', JSON.stringify({ sent: 'as text' })), {
    sent: 'as text',
  });
  await assert.rejects(
    client.postJson('/v1/echo', '{"cut":'),
    /400 to \/v1\/echo: \/v1\/echo: the body is not valid JSON/,
  );
});
