import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { OutpostError } from '../errors.ts';
import {
  badRequest,
  ControlClient,
  type ControlRequest,
  ControlServer,
  type ControlStream,
  streamReply,
  textReply,
} from './index.ts';

const logger = pino({ level: 'silent' });

function socketPath(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'agent.sock');
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw request on the socket, for what ControlClient never sends (bad JSON, huge bodies). */
function rawPost(path: string, sock: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: sock, path, method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('control: routes get the JSON body and query params; bad JSON and oversized bodies get 400 and 413', async (t) => {
  const sock = socketPath(t);
  const seen: ControlRequest[] = [];
  const server = await ControlServer.listen({
    socketPath: sock,
    maxBodyBytes: 64,
    routes: {
      'POST /v1/echo': (req) => {
        seen.push(req);
        return { body: req.body, limit: req.query.get('limit') };
      },
      'GET /v1/items': (req) => {
        const limit = Number(req.query.get('limit'));
        if (!Number.isInteger(limit))
          throw badRequest(`limit: expected a whole number, got ${req.query.get('limit')}`);
        return { limit };
      },
    },
    logger,
  });
  t.after(() => server.close());
  const client = new ControlClient(sock);
  t.after(() => client.close());

  assert.deepEqual(await client.post('/v1/echo?limit=5', { kind: 'log', names: ['a'] }), {
    body: { kind: 'log', names: ['a'] },
    limit: '5',
  });
  assert.deepEqual(await client.post('/v1/echo'), { limit: null });
  assert.equal(seen[1]?.body, undefined);
  assert.deepEqual(await client.get('/v1/items', { limit: 3, skip: undefined }), { limit: 3 });
  await assert.rejects(client.get('/v1/items', { limit: 'many' }), (err: OutpostError) => {
    assert.equal(err.details?.status, 400);
    assert.equal(err.details?.remoteCode, 'E_BAD_REQUEST');
    assert.match(err.message, /limit: expected a whole number, got many/);
    return true;
  });

  const bad = await rawPost('/v1/echo', sock, '{"kind": ');
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error.message, /^\/v1\/echo: the body is not valid JSON/);
  const big = await rawPost('/v1/echo', sock, JSON.stringify({ pad: 'x'.repeat(100) }));
  assert.equal(big.status, 413);
  assert.equal(JSON.parse(big.body).error.code, 'E_BODY_TOO_LARGE');
  assert.equal(seen.length, 2, 'rejected bodies never reach the route');
});

test('control: a route answers raw text with its own content type', async (t) => {
  const sock = socketPath(t);
  const server = await ControlServer.listen({
    socketPath: sock,
    routes: { 'GET /metrics': () => textReply('up 1\n', 'text/plain; version=0.0.4; charset=utf-8') },
    logger,
  });
  t.after(() => server.close());
  const client = new ControlClient(sock);
  t.after(() => client.close());
  assert.equal(await client.text('/metrics'), 'up 1\n');
  await assert.rejects(client.text('/nope'), /404 to \/nope: no control route GET \/nope/);
});

test('control: a stream sends NDJSON until the client aborts, and the route sees the disconnect', async (t) => {
  const sock = socketPath(t);
  const streams: ControlStream[] = [];
  const server = await ControlServer.listen({
    socketPath: sock,
    routes: {
      'GET /v1/tap': (req) =>
        streamReply((stream) => {
          streams.push(stream);
          stream.write({ hello: req.query.get('kind') });
        }),
    },
    logger,
  });
  t.after(() => server.close());
  const client = new ControlClient(sock);
  t.after(() => client.close());

  const lines: unknown[] = [];
  const abort = new AbortController();
  const following = client.stream('/v1/tap', (line) => lines.push(line), {
    query: { kind: 'metric' },
    signal: abort.signal,
  });
  const stream = await until('the stream to open', () => streams[0]);
  await until('the first line', () => (lines.length === 1 ? true : undefined));
  for (let i = 0; i < 3; i += 1) assert.equal(stream.write({ i }), true);
  await until('three more lines', () => (lines.length === 4 ? true : undefined));
  assert.deepEqual(lines, [{ hello: 'metric' }, { i: 0 }, { i: 1 }, { i: 2 }]);

  abort.abort();
  await following;
  await until('the server to see the disconnect', () => (stream.signal.aborted ? true : undefined));
  assert.equal(stream.write({ late: true }), false, 'writes after the client left are refused');
});

test('control: close() ends open streams, and the client sees the end', async (t) => {
  const sock = socketPath(t);
  let opened: ControlStream | undefined;
  const server = await ControlServer.listen({
    socketPath: sock,
    routes: {
      'GET /v1/tap': () =>
        streamReply((stream) => {
          opened = stream;
        }),
    },
    logger,
  });
  const client = new ControlClient(sock);
  t.after(() => client.close());
  const lines: unknown[] = [];
  const following = client.stream('/v1/tap', (line) => lines.push(line));
  const stream = await until('the stream to open', () => opened);
  stream.write({ n: 1 });
  await until('the line', () => (lines.length === 1 ? true : undefined));

  await server.close();
  await following;
  assert.equal(stream.signal.aborted, true);
  assert.deepEqual(lines, [{ n: 1 }]);
  await assert.rejects(client.get('/v1/status'), { code: 'E_AGENT_NOT_RUNNING' });
});

test('control: a route that ends its own stream finishes the client call', async (t) => {
  const sock = socketPath(t);
  const server = await ControlServer.listen({
    socketPath: sock,
    routes: {
      'GET /v1/once': () =>
        streamReply((stream) => {
          stream.write({ a: 1 });
          stream.write({ b: 2 });
          stream.end();
        }),
    },
    logger,
  });
  t.after(() => server.close());
  const client = new ControlClient(sock);
  t.after(() => client.close());
  const lines: unknown[] = [];
  await client.stream('/v1/once', (line) => lines.push(line));
  assert.deepEqual(lines, [{ a: 1 }, { b: 2 }]);
});
