import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import { encodeBatch } from './encode.ts';
import { accepted, ScriptedCollector, type Step } from './scripted-collector.ts';
import { HttpTransport, type SendRequest } from './transport.ts';

const identity = { agentId: 'agt_1', secret: 'top', hostname: 'h', labels: {} };

function request(seq = 5): SendRequest {
  const encoded = encodeBatch(
    {
      seq,
      createdAt: 1,
      bytes: 10,
      records: [{ seq: 1, kind: 'metric', ts: 1, name: 'm', value: 1, attrs: {}, source: 'system' }],
    },
    identity,
    { compression: 'zstd' },
  );
  return { ...encoded, credentials: { agentId: identity.agentId, secret: identity.secret } };
}

async function withCollector(
  script: (n: number, json: unknown) => Step,
  body: (collector: ScriptedCollector, transport: HttpTransport) => Promise<void>,
  url?: (base: string) => string,
): Promise<void> {
  const collector = await ScriptedCollector.start(script);
  const transport = new HttpTransport({
    url: url ? url(collector.url) : collector.url,
    userAgent: 'outpost-agent/test',
  });
  try {
    await body(collector, transport);
  } finally {
    await transport.close();
    await collector.close();
  }
}

test('transport: posts the protocol headers and body over one keep-alive connection', async () => {
  await withCollector(
    (_n, json) => accepted(json),
    async (collector, transport) => {
      const first = await transport.send(request(5), { timeoutMs: 5000 });
      const second = await transport.send(request(6), { timeoutMs: 5000 });
      assert.deepEqual(first, { type: 'success', status: 200, body: { batchSeq: 5, accepted: 1 } });
      assert.equal(second.type, 'success');
      const seen = collector.seen[0]!;
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/api/v1/agent/data');
      assert.equal(seen.headers.authorization, 'Bearer agt_1.top');
      assert.equal(seen.headers['idempotency-key'], 'agt_1-5');
      assert.equal(seen.headers['content-type'], 'application/json');
      assert.equal(seen.headers['content-encoding'], 'zstd');
      assert.equal(seen.headers['user-agent'], 'outpost-agent/test');
      assert.equal((seen.json as { batch: { seq: number } }).batch.seq, 5);
      assert.equal(collector.connections, 1, 'the second batch reuses the first connection');
      assert.equal(collector.seen[1]!.socketId, seen.socketId);
    },
  );
});

test('transport: a collector behind a proxy prefix keeps the prefix', async () => {
  await withCollector(
    (_n, json) => accepted(json),
    async (collector, transport) => {
      assert.equal((await transport.send(request(), { timeoutMs: 5000 })).type, 'success');
      assert.equal(collector.seen[0]!.url, '/outpost/api/v1/agent/data');
    },
    (base) => `${base}/outpost/`,
  );
});

test('transport: identity encoding sends no Content-Encoding', async () => {
  await withCollector(
    (_n, json) => accepted(json),
    async (collector, transport) => {
      const plain = {
        ...request(),
        ...encodeBatch({ seq: 1, createdAt: 1, bytes: 1, records: [] }, identity, { compression: 'none' }),
      };
      assert.equal((await transport.send(plain, { timeoutMs: 5000 })).type, 'success');
      assert.equal(collector.seen[0]!.headers['content-encoding'], undefined);
    },
  );
});

test('transport: every fault is a value, scripted by request count', async () => {
  const date = new Date(Date.now() + 60_000).toUTCString();
  const script: Step[] = [
    'destroy',
    {
      status: 503,
      body: { error: { code: 'E_NOT_READY', message: 'store not open' } },
      headers: { 'retry-after': '1' },
    },
    {
      status: 429,
      body: { error: { code: 'E_RATE_LIMITED', message: 'slow down' } },
      headers: { 'retry-after': date },
    },
    { status: 500, body: {} },
    { status: 400, body: { error: { code: 'E_BAD_BODY', message: 'records[0].ts: expected number' } } },
    { status: 401, body: { error: { code: 'E_UNAUTHORIZED', message: 'unknown agent' } } },
    { status: 413, body: 'not the error shape' },
    { status: 302, headers: { location: 'https://login.example/' } },
  ];
  await withCollector(
    (n) => script[n - 1] ?? { status: 200 },
    async (_collector, transport) => {
      const results = [];
      for (let i = 0; i < script.length; i += 1)
        results.push(await transport.send(request(), { timeoutMs: 5000 }));
      const [destroyed, notReady, limited, crashed, bad, unauthorized, tooLarge, redirected] = results;
      assert.equal(destroyed?.type, 'retryable');
      assert.deepEqual(notReady, {
        type: 'retryable',
        reason: 'HTTP 503 E_NOT_READY',
        status: 503,
        retryAfterMs: 1000,
      });
      assert.equal(limited?.type, 'retryable');
      assert.ok(
        limited.type === 'retryable' && limited.retryAfterMs! > 50_000 && limited.retryAfterMs! <= 60_000,
      );
      assert.deepEqual(crashed, { type: 'retryable', reason: 'HTTP 500', status: 500 });
      assert.deepEqual(bad, {
        type: 'permanent',
        status: 400,
        code: 'E_BAD_BODY',
        message: 'records[0].ts: expected number',
      });
      assert.deepEqual(unauthorized, { type: 'unauthorized', status: 401 });
      assert.deepEqual(tooLarge, {
        type: 'permanent',
        status: 413,
        code: 'E_HTTP_413',
        message: '"not the error shape"',
      });
      assert.ok(
        redirected?.type === 'retryable' && redirected.reason.includes('https://login.example/'),
        JSON.stringify(redirected),
      );
    },
  );
});

test('transport: a stalled collector times out, and an abort ends the request', async () => {
  await withCollector(
    () => 'stall',
    async (_collector, transport) => {
      const timedOut = await transport.send(request(), { timeoutMs: 50 });
      assert.ok(
        timedOut.type === 'retryable' && timedOut.reason.startsWith('timed out after 50 ms'),
        JSON.stringify(timedOut),
      );
      const controller = new AbortController();
      const pending = transport.send(request(), { timeoutMs: 60_000, signal: controller.signal });
      controller.abort();
      assert.deepEqual(await pending, { type: 'retryable', reason: 'aborted by the caller' });
    },
  );
});

test('transport: a refused connection is retryable and names the URL', async () => {
  const collector = await ScriptedCollector.start(() => ({ status: 200 }));
  const url = collector.url;
  await collector.close();
  const transport = new HttpTransport({ url });
  try {
    const result = await transport.send(request(), { timeoutMs: 5000 });
    assert.ok(result.type === 'retryable' && result.reason.includes(url), JSON.stringify(result));
  } finally {
    await transport.close();
  }
});

test('transport: close is idempotent, then send refuses; a bad URL is refused up front', async () => {
  const transport = new HttpTransport({ url: 'http://127.0.0.1:9' });
  const closing = transport.close();
  assert.equal(transport.close(), closing);
  await closing;
  await assert.rejects(transport.send(request(), { timeoutMs: 10 }), (err) =>
    isOutpostError(err, 'E_TRANSPORT_CLOSED'),
  );
  assert.throws(
    () => new HttpTransport({ url: 'collector:8080' }),
    (err) => isOutpostError(err, 'E_SEND_CONFIG'),
  );
  assert.throws(
    () => new HttpTransport({ url: 'not a url' }),
    (err) => isOutpostError(err, 'E_SEND_CONFIG'),
  );
});
