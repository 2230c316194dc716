import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { compress } from 'zstd-napi';
import { eventually, metric, type Session, startSession } from './session.ts';

async function withSession(
  values: Record<string, unknown>,
  fn: (session: Session) => Promise<void>,
): Promise<void> {
  const session = await startSession(values);
  try {
    await fn(session);
  } finally {
    await session.close();
  }
}

function assertError(
  answer: { status: number; json: unknown },
  status: number,
  code: string,
  message?: RegExp,
) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  const body = answer.json as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.equal(body.error.code, code);
  if (message) assert.match(body.error.message, message);
}

test('collector: register, heartbeat, send and read back', async () => {
  await withSession({}, async (s) => {
    assert.deepEqual((await s.request('GET', '/healthz')).json, { status: 'ok' });
    assert.deepEqual((await s.request('GET', '/readyz')).json, { status: 'ready' });

    const agent = await s.register('web-1');
    assert.match(agent.agentId, /^agt_[0-9a-f]+$/);

    const beat = await s.request('POST', '/api/v1/agent/heartbeat', {
      auth: agent.auth,
      body: {
        version: '0.1.0',
        uptimeSec: 4.2,
        queue: { depth: 3, bytes: 10, dropped: 0, deadLetter: 0 },
        plugins: [],
      },
    });
    assert.equal(beat.status, 200);
    assert.deepEqual(Object.keys(beat.json).sort(), [
      'commands',
      'desiredConfigVersion',
      'desiredPlugins',
      'minSendIntervalMs',
      'serverTime',
    ]);
    assert.deepEqual(beat.json.commands, []);
    assert.equal(typeof beat.json.serverTime, 'number');

    const sent = await s.sendBatch(
      agent,
      17,
      [
        metric(1042, 1_000),
        {
          seq: 1043,
          kind: 'log',
          ts: 1_001,
          name: 'syslog',
          body: 'disk ok',
          attrs: { file: '/var/log/syslog' },
          source: 'log',
        },
      ],
      { zstd: true },
    );
    assert.equal(sent.status, 200, JSON.stringify(sent.json));
    assert.deepEqual(sent.json, { batchSeq: 17, accepted: 2 });
    assert.equal(sent.headers.get('idempotent-replayed'), null);

    const agents = await s.request('GET', '/api/v1/agents', { auth: s.admin });
    assert.equal(agents.status, 200);
    assert.equal(agents.json.agents.length, 1);
    const [listed] = agents.json.agents;
    assert.equal(listed.id, agent.agentId);
    assert.equal(listed.hostname, 'web-1');
    assert.deepEqual(listed.labels, { env: 'test' });
    assert.equal(listed.state, 'online');
    assert.equal(listed.status.queue.depth, 3);
    assert.equal(typeof listed.registeredAt, 'number');
    assert.equal(typeof listed.lastHeartbeatAt, 'number');

    const one = await s.request('GET', `/api/v1/agents/${agent.agentId}`, { auth: s.admin });
    assert.deepEqual(one.json, listed);

    const metrics = await s.request('GET', `/api/v1/metrics?agent=${agent.agentId}`, { auth: s.admin });
    assert.equal(metrics.json.more, false);
    const tail = await s.request(
      'GET',
      `/api/v1/metrics?agent=${agent.agentId}&after=${encodeURIComponent(metrics.json.next)}`,
      {
        auth: s.admin,
      },
    );
    assert.deepEqual(tail.json.metrics, [], 'next of the last page tails: nothing newer yet');
    assert.deepEqual(metrics.json.metrics, [
      {
        agentId: agent.agentId,
        seq: 1042,
        ts: 1_000,
        name: 'system.cpu.utilization',
        value: 10.42,
        unit: '1',
        attrs: { cpu: 0 },
        source: 'system',
      },
    ]);

    const records = await s.request('GET', '/api/v1/records?kind=log', { auth: s.admin });
    assert.deepEqual(records.json.records, [
      {
        agentId: agent.agentId,
        seq: 1043,
        kind: 'log',
        ts: 1_001,
        name: 'syslog',
        value: null,
        unit: null,
        body: 'disk ok',
        attrs: { file: '/var/log/syslog' },
        source: 'log',
      },
    ]);
  });
});

test('collector: a retried batch gets the first answer again and is stored once', async () => {
  await withSession({}, async (s) => {
    const agent = await s.register();
    const records = [metric(1, 1_000), metric(2, 2_000)];
    const first = await s.sendBatch(agent, 5, records, { zstd: true });
    assert.equal(first.status, 200);

    const retry = await s.sendBatch(agent, 5, records, { zstd: true });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.json, first.json);

    // The key compares the decoded content, so the same batch sent uncompressed is a replay too.
    const body = { agent: { id: agent.agentId }, batch: { seq: 5 }, records };
    const a = await s.request('POST', '/api/v1/agent/data', {
      auth: agent.auth,
      body: JSON.stringify(body),
      headers: { 'idempotency-key': `${agent.agentId}-6` },
    });
    const b = await s.request('POST', '/api/v1/agent/data', {
      auth: agent.auth,
      body: JSON.stringify(body),
      zstd: true,
      headers: { 'idempotency-key': `${agent.agentId}-6` },
    });
    assert.equal(a.status, 200);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');

    // The agent block is not part of the comparison: labels changed by a reload between two attempts
    // of one batch are a replay, not a conflict.
    const relabelled = await s.request('POST', '/api/v1/agent/data', {
      auth: agent.auth,
      body: JSON.stringify({ ...body, agent: { id: agent.agentId, labels: { env: 'changed' } } }),
      headers: { 'idempotency-key': `${agent.agentId}-6` },
    });
    assert.equal(relabelled.status, 200);
    assert.equal(relabelled.headers.get('idempotent-replayed'), 'true');

    const stored = await s.request('GET', '/api/v1/metrics', { auth: s.admin });
    assert.deepEqual(
      stored.json.metrics.map((m: { seq: number }) => m.seq),
      [1, 2],
      'neither the retry nor the re-keyed batch stored a record twice',
    );
  });
});

test('collector: the same key with a different body is a 409', async () => {
  await withSession({}, async (s) => {
    const agent = await s.register();
    assert.equal((await s.sendBatch(agent, 1, [metric(1, 1_000)])).status, 200);
    const conflict = await s.sendBatch(agent, 1, [metric(1, 1_000), metric(2, 1_001)]);
    assertError(conflict, 409, 'E_IDEMPOTENCY_CONFLICT', /already used with a different body/);
    const stored = await s.request('GET', '/api/v1/metrics', { auth: s.admin });
    assert.equal(stored.json.metrics.length, 1);
  });
});

test('collector: authentication failures', async () => {
  await withSession({}, async (s) => {
    const agent = await s.register('a');
    const other = await s.register('b');
    const beat = { version: '0.1.0' };

    const none = await s.request('POST', '/api/v1/agent/heartbeat', { body: beat });
    assertError(none, 401, 'E_UNAUTHORIZED', /missing Authorization/);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);

    const wrongSecret = await s.request('POST', '/api/v1/agent/heartbeat', {
      auth: `Bearer ${agent.agentId}.not-the-secret`,
      body: beat,
    });
    assertError(wrongSecret, 401, 'E_UNAUTHORIZED', /unknown agent or wrong secret/);

    const unknownAgent = await s.request('POST', '/api/v1/agent/heartbeat', {
      auth: `Bearer agt_nobody.${agent.secret}`,
      body: beat,
    });
    assertError(unknownAgent, 401, 'E_UNAUTHORIZED');

    const foreignBody = await s.request('POST', '/api/v1/agent/data', {
      auth: agent.auth,
      headers: { 'idempotency-key': `${agent.agentId}-1` },
      body: { agent: { id: other.agentId }, batch: { seq: 1 }, records: [metric(1, 1)] },
    });
    assertError(foreignBody, 403, 'E_FORBIDDEN', /not the authenticated agent/);

    const foreignKey = await s.sendBatch(agent, 1, [metric(1, 1)], {
      headers: { 'idempotency-key': `${other.agentId}-1` },
    });
    assertError(foreignKey, 403, 'E_FORBIDDEN', /Idempotency-Key/);

    const noKey = await s.request('POST', '/api/v1/agent/data', {
      auth: agent.auth,
      body: { agent: { id: agent.agentId }, batch: { seq: 1 }, records: [] },
    });
    assertError(noKey, 400, 'E_BAD_REQUEST', /Idempotency-Key header is required/);

    assertError(
      await s.request('GET', '/api/v1/agents', { auth: agent.auth }),
      401,
      'E_UNAUTHORIZED',
      /wrong admin token/,
    );
    assertError(await s.request('GET', '/api/v1/agents'), 401, 'E_UNAUTHORIZED');
    assertError(
      await s.request('POST', '/api/v1/agent/heartbeat', { auth: s.admin, body: beat }),
      401,
      'E_UNAUTHORIZED',
    );

    const badEnrollment = await s.request('POST', '/api/v1/agent/register', {
      body: { enrollmentToken: 'guess-guess-guess', hostname: 'x', version: '1' },
    });
    assertError(badEnrollment, 401, 'E_ENROLLMENT_TOKEN_INVALID');

    const stored = await s.request('GET', '/api/v1/records', { auth: s.admin });
    assert.deepEqual(stored.json.records, [], 'no refused request stored anything');
  });
});

test('collector: malformed bodies and requests get the error shape with a field path', async () => {
  await withSession({}, async (s) => {
    const agent = await s.register();
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      s.request('POST', '/api/v1/agent/data', {
        auth: agent.auth,
        body,
        headers: { 'idempotency-key': `${agent.agentId}-1`, ...headers },
      });

    assertError(await post('{"agent": '), 400, 'E_BAD_BODY', /not valid JSON/);
    assertError(
      await post({
        agent: { id: agent.agentId },
        batch: { seq: 1 },
        records: [metric(1, 1), { ...metric(2, 2), ts: 'x' }],
      }),
      400,
      'E_BAD_BODY',
      /^records\[1\]\.ts: expected number, received string$/,
    );
    assertError(
      await post({ agent: { id: agent.agentId }, batch: {}, records: [] }),
      400,
      'E_BAD_BODY',
      /^batch\.seq: required$/,
    );
    assertError(await post('{}', { 'content-type': 'text/plain' }), 415, 'E_UNSUPPORTED_MEDIA_TYPE');
    assertError(await post('{}', { 'content-encoding': 'gzip' }), 415, 'E_UNSUPPORTED_ENCODING', /gzip/);
    assertError(
      await post(Buffer.from('definitely not zstd'), { 'content-encoding': 'zstd' }),
      400,
      'E_BAD_COMPRESSED_BODY',
    );
    assertError(
      await s.request('POST', '/api/v1/agent/heartbeat', { auth: agent.auth }),
      400,
      'E_BAD_BODY',
      /body: required/,
    );
    assertError(
      await s.request('GET', '/api/v1/nothing-here'),
      404,
      'E_NOT_FOUND',
      /GET \/api\/v1\/nothing-here/,
    );
    assertError(await s.request('GET', '/api/v1/agents/agt_missing', { auth: s.admin }), 404, 'E_NOT_FOUND');
    assertError(
      await s.request('GET', '/api/v1/metrics?agentId=x', { auth: s.admin }),
      400,
      'E_BAD_QUERY',
      /unknown query parameter "agentId"/,
    );
    assertError(
      await s.request('GET', '/api/v1/metrics?limit=20000', { auth: s.admin }),
      400,
      'E_BAD_QUERY',
      /^limit:/,
    );
    assertError(
      await s.request('GET', '/api/v1/metrics?from=yesterday', { auth: s.admin }),
      400,
      'E_BAD_QUERY',
      /^from:/,
    );
    assertError(
      await s.request('GET', '/api/v1/records?after=bogus', { auth: s.admin }),
      400,
      'E_BAD_QUERY',
      /^after:/,
    );
    assertError(
      await s.request('GET', '/api/v1/records?kind=trace', { auth: s.admin }),
      400,
      'E_BAD_QUERY',
      /^kind:/,
    );
  });
});

test('collector: a request Node cannot parse still gets the error shape', async () => {
  await withSession({}, async (s) => {
    const { hostname, port } = new URL(s.collector.url);
    const socket = net.connect(Number(port), hostname);
    socket.end('NOT HTTP AT ALL\r\n\r\n');
    let raw = '';
    for await (const chunk of socket) raw += chunk;
    assert.match(raw, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(body, { error: { code: 'E_BAD_REQUEST', message: 'malformed HTTP request' } });
  });
});

test('collector: bodies over max_body_bytes are 413 before decompression', async () => {
  await withSession({ limits: { max_body_bytes: '64KiB' } }, async (s) => {
    const agent = await s.register();
    const records = Array.from({ length: 2000 }, (_, i) => metric(i + 1, i));
    const big = await s.sendBatch(agent, 1, records);
    assertError(big, 413, 'E_BODY_TOO_LARGE', /limits\.max_body_bytes \(65536 bytes/);
    // The same batch compressed fits: the limit applies to the body as sent.
    const small = await s.sendBatch(agent, 1, records, { zstd: true });
    assert.equal(small.status, 200, JSON.stringify(small.json));
    assert.equal(small.json.accepted, 2000);
  });
});

test('collector: a zstd bomb is refused with 413 and the collector keeps serving', async () => {
  await withSession({ limits: { max_decompressed_bytes: '1MiB' } }, async (s) => {
    const agent = await s.register();
    const padding = ' '.repeat(200 * 1024 * 1024);
    const bomb = compress(Buffer.from(`{"agent":${padding}}`));
    assert.ok(bomb.length < 1024 * 1024, `bomb is ${bomb.length} bytes`);
    const answer = await s.sendBatch(agent, 1, [], { body: bomb, headers: { 'content-encoding': 'zstd' } });
    assertError(answer, 413, 'E_DECOMPRESSED_TOO_LARGE', /limits\.max_decompressed_bytes \(1048576 bytes\)/);
    assert.equal((await s.sendBatch(agent, 2, [metric(1, 1)], { zstd: true })).status, 200);
  });
});

test('collector: metrics filter by agent, name and time and page with the cursor', async () => {
  await withSession({}, async (s) => {
    const a = await s.register('a');
    const b = await s.register('b');
    const cpu = Array.from({ length: 25 }, (_, i) => metric(i + 1, 1_000 + i));
    const mem = [metric(100, 1_005, 'system.memory.usage', 1e9)];
    assert.equal((await s.sendBatch(a, 1, [...cpu, ...mem], { zstd: true })).status, 200);
    assert.equal((await s.sendBatch(b, 1, [metric(1, 1_003)])).status, 200);
    assert.equal(
      (
        await s.sendBatch(a, 2, [
          { seq: 200, kind: 'event', ts: 1_002, name: 'restart', attrs: {}, source: 'system' },
        ])
      ).status,
      200,
    );

    const seen: number[] = [];
    let next: string | null = null;
    let more = true;
    let pages = 0;
    while (more) {
      const query = new URLSearchParams({ agent: a.agentId, name: 'system.cpu.utilization', limit: '10' });
      if (next) query.set('after', next);
      const page = await s.request('GET', `/api/v1/metrics?${query}`, { auth: s.admin });
      assert.equal(page.status, 200, JSON.stringify(page.json));
      seen.push(...page.json.metrics.map((m: { seq: number }) => m.seq));
      next = page.json.next;
      more = page.json.more;
      pages++;
    }
    assert.deepEqual(
      seen,
      cpu.map((r) => r.seq),
    );
    assert.equal(pages, 3);

    const window = await s.request('GET', `/api/v1/metrics?from=1003&to=1006`, { auth: s.admin });
    assert.deepEqual(
      window.json.metrics.map((m: { agentId: string; seq: number }) => [
        m.agentId === a.agentId ? 'a' : 'b',
        m.seq,
      ]),
      [
        ['a', 4],
        ['b', 1],
        ['a', 5],
        ['a', 6],
        ['a', 100],
      ],
    );
    const byName = await s.request('GET', '/api/v1/metrics?name=system.memory.usage', { auth: s.admin });
    assert.deepEqual(
      byName.json.metrics.map((m: { value: number }) => m.value),
      [1e9],
    );
    const events = await s.request('GET', '/api/v1/records?kind=event', { auth: s.admin });
    assert.deepEqual(
      events.json.records.map((r: { name: string }) => r.name),
      ['restart'],
    );
    const noEvents = await s.request('GET', '/api/v1/metrics?from=1002&to=1003', { auth: s.admin });
    assert.ok(
      noEvents.json.metrics.every((m: { name: string }) => m.name !== 'restart'),
      'metrics holds metrics only',
    );
  });
});

test('collector: agents go offline when heartbeats stop', async () => {
  await withSession({ agents: { offline_after: '300ms' } }, async (s) => {
    const agent = await s.register();
    const state = async () =>
      (await s.request('GET', `/api/v1/agents/${agent.agentId}`, { auth: s.admin })).json.state as string;
    assert.equal(await state(), 'offline', 'registered but never heard from');
    await s.request('POST', '/api/v1/agent/heartbeat', { auth: agent.auth, body: { version: '0.1.0' } });
    assert.equal(await state(), 'online');
    await eventually('the agent to go offline', async () =>
      (await state()) === 'offline' ? true : undefined,
    );
    await s.request('POST', '/api/v1/agent/heartbeat', { auth: agent.auth, body: { version: '0.1.0' } });
    assert.equal(await state(), 'online', 'a new heartbeat brings it back');
  });
});

test('collector: data, agents, tokens and keys survive a restart', async (t) => {
  const first = await startSession();
  t.after(() => first.close());
  const agent = await first.register();
  const records = [metric(1, 1_000)];
  const original = await first.sendBatch(agent, 1, records);
  assert.equal(original.status, 200);
  const tokens = first.collector.tokens;
  await first.close();

  const second = await startSession({}, first.dataDir);
  try {
    assert.deepEqual(second.collector.tokens, tokens, 'generated tokens are reused from the data dir');
    const replay = await second.sendBatch(agent, 1, records);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.json, original.json);
    assert.equal((await second.sendBatch(agent, 2, [metric(2, 2_000)])).status, 200);
    const stored = await second.request('GET', '/api/v1/metrics', { auth: second.admin });
    assert.deepEqual(
      stored.json.metrics.map((m: { seq: number }) => m.seq),
      [1, 2],
    );
  } finally {
    await second.close();
  }
});

test('collector: close waits for a request in flight, then refuses new ones', async (t) => {
  const s = await startSession();
  t.after(() => s.close());
  const agent = await s.register();
  const body = Buffer.from(
    JSON.stringify({ agent: { id: agent.agentId }, batch: { seq: 1 }, records: [metric(1, 1_000)] }),
  );
  const url = new URL('/api/v1/agent/data', s.collector.url);
  const req = http.request(url, {
    method: 'POST',
    headers: {
      authorization: agent.auth,
      'content-type': 'application/json',
      'content-length': String(body.length),
      'idempotency-key': `${agent.agentId}-1`,
      // Makes the server confirm it has parsed the request before the body is sent: from then on
      // the request is in flight.
      expect: '100-continue',
    },
  });
  const reached = new Promise<void>((resolve) => req.on('continue', () => resolve()));
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  await reached;
  const closing = s.collector.close();
  assert.equal(s.collector.close(), closing, 'close() returns the same promise');
  req.end(body);
  const answer = await answered;
  assert.equal(answer.status, 200, answer.text);
  await closing;
  await assert.rejects(fetch(`${s.collector.url}/healthz`));
  await assert.rejects(s.collector.store.listAgents(), /closed/);
});
