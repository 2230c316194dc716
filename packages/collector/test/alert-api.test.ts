import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compress } from 'zstd-napi';
import { type Answer, type Session, startSession } from './session.ts';

const RULE = { type: 'threshold', name: 'hot', metric: 'temp', op: 'above', threshold: 50 };
const CHANNEL = { name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' };
const SILENCE = { matchers: [{ name: 'alertname', value: 'hot' }], duration: '1h' };

function assertError(answer: Answer, status: number, code: string, message?: RegExp) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.deepEqual(Object.keys(answer.json), ['error']);
  assert.equal(answer.json.error.code, code, answer.json.error.message);
  if (message) assert.match(answer.json.error.message, message);
}

async function withSession(fn: (s: Session) => Promise<void>): Promise<void> {
  const s = await startSession({ limits: { max_body_bytes: '16KiB', max_decompressed_bytes: '64KiB' } });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/** Every alert route, with a body for those that take one. */
const ROUTES: Array<[method: string, path: string, body?: unknown]> = [
  ['GET', '/api/v1/alert/rules'],
  ['POST', '/api/v1/alert/rules', RULE],
  ['GET', '/api/v1/alert/rules/rul_x'],
  ['PUT', '/api/v1/alert/rules/rul_x', RULE],
  ['DELETE', '/api/v1/alert/rules/rul_x'],
  ['GET', '/api/v1/alert/alerts'],
  ['GET', '/api/v1/alert/history'],
  ['GET', '/api/v1/alert/notify'],
  ['POST', '/api/v1/alert/notify', CHANNEL],
  ['PUT', '/api/v1/alert/notify/chn_x', CHANNEL],
  ['DELETE', '/api/v1/alert/notify/chn_x'],
  ['GET', '/api/v1/alert/notify/outbox'],
  ['GET', '/api/v1/alert/silences'],
  ['POST', '/api/v1/alert/silences', SILENCE],
  ['DELETE', '/api/v1/alert/silences/sil_x'],
];

test('alert api: every route refuses a missing or wrong admin token and an agent secret, and stores nothing', async () => {
  await withSession(async (s) => {
    const agent = await s.register('web-1');
    for (const [method, path, body] of ROUTES) {
      const what = `${method} ${path}`;
      const none = await s.request(method, path, { body });
      assertError(none, 401, 'E_UNAUTHORIZED', /missing Authorization: Bearer <adminToken>/);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="outpost"', what);
      assertError(await s.request(method, path, { body, auth: 'Bearer wrong' }), 401, 'E_UNAUTHORIZED');
      assertError(
        await s.request(method, path, { body, auth: 'Basic YWRtaW46YWRtaW4=' }),
        401,
        'E_UNAUTHORIZED',
      );
      assertError(
        await s.request(method, path, { body, auth: agent.auth }),
        401,
        'E_UNAUTHORIZED',
        /agent credentials are not accepted here/,
      );
    }
    for (const list of ['rules', 'notify', 'silences']) {
      const answer = await s.request('GET', `/api/v1/alert/${list}`, { auth: s.admin });
      assert.equal(answer.status, 200);
      assert.deepEqual(Object.values(answer.json)[0], [], `${list} stays empty`);
    }
  });
});

test('alert api: malformed, oversized and mistyped bodies get a 4xx naming the problem; nothing else is lost', async () => {
  await withSession(async (s) => {
    const call = (method: string, path: string, init: Parameters<Session['request']>[2] = {}) =>
      s.request(method, path, { auth: s.admin, ...init });
    const rule = await call('POST', '/api/v1/alert/rules', { body: RULE });
    assert.equal(rule.status, 201);
    const channel = await call('POST', '/api/v1/alert/notify', { body: CHANNEL });
    assert.equal(channel.status, 201);
    const ruleId = rule.json.id as string;
    const channelId = channel.json.id as string;

    const bodies: Array<[method: string, path: string]> = [
      ['POST', '/api/v1/alert/rules'],
      ['PUT', `/api/v1/alert/rules/${ruleId}`],
      ['POST', '/api/v1/alert/notify'],
      ['PUT', `/api/v1/alert/notify/${channelId}`],
      ['POST', '/api/v1/alert/silences'],
    ];
    for (const [method, path] of bodies) {
      assertError(await call(method, path, { body: '{"name": "hot",' }), 400, 'E_BAD_BODY', /JSON/i);
      assertError(await call(method, path), 400, 'E_BAD_BODY', /^body: required/);
      assertError(await call(method, path, { body: '[1, 2]' }), 400, 'E_BAD_BODY', /expected object/);
      assertError(
        await call(method, path, { body: 'name=hot', headers: { 'content-type': 'text/plain' } }),
        415,
        'E_UNSUPPORTED_MEDIA_TYPE',
      );
      const big = { ...RULE, description: 'x'.repeat(20_000) };
      assertError(await call(method, path, { body: big }), 413, 'E_BODY_TOO_LARGE');
      // Small when compressed, large after: the decompressed limit applies to admin routes too.
      const bomb = compress(Buffer.from(JSON.stringify({ ...RULE, description: ' '.repeat(100_000) })));
      assertError(
        await call(method, path, { body: bomb, headers: { 'content-encoding': 'zstd' } }),
        413,
        'E_DECOMPRESSED_TOO_LARGE',
      );
    }

    const badRule = async (body: unknown, message: RegExp) =>
      assertError(await call('POST', '/api/v1/alert/rules', { body }), 400, 'E_BAD_BODY', message);
    await badRule({ ...RULE, thresold: 5 }, /^body: unknown key "thresold"/);
    await badRule({ ...RULE, threshold: '50' }, /^threshold: expected number, received string/);
    await badRule({ ...RULE, threshold: undefined }, /^threshold: required/);
    await badRule({ ...RULE, window: '5 minutes' }, /^window: expected a window such as "30s"/);
    await badRule({ ...RULE, for: -1 }, /^for: expected string, received number/);
    await badRule({ ...RULE, aggregate: 'p99' }, /^aggregate: expected one of "avg", "max", "min", "last"/);
    await badRule({ ...RULE, severity: 'page' }, /^severity: expected one of "info", "warning", "critical"/);
    await badRule({ ...RULE, labels: { env: 1 } }, /^labels\.env: expected string, received number/);
    await badRule(
      { ...RULE, type: 'cpu' },
      /^type: expected one of "threshold", "agent_offline", "no_data", "log_pattern"/,
    );
    await badRule({ name: 'no type' }, /^type: required/);
    await badRule(
      { type: 'log_pattern', name: 'x', pattern: '(' },
      /^pattern: not a valid regular expression/,
    );
    await badRule(
      { type: 'log_pattern', name: 'x', pattern: 'a', count_above: 1.5 },
      /^count_above: expected int/,
    );
    await badRule({ type: 'agent_offline', name: '' }, /^name: must be at least 1 character/);

    const badChannel = async (body: unknown, message: RegExp) =>
      assertError(await call('POST', '/api/v1/alert/notify', { body }), 400, 'E_BAD_BODY', message);
    await badChannel({ ...CHANNEL, url: 'ftp://x' }, /^url: expected an http:\/\/ or https:\/\/ URL/);
    await badChannel({ ...CHANNEL, type: 'email' }, /^type: expected one of "webhook", "slack"/);
    await badChannel({ ...CHANNEL, retries: 3 }, /^body: unknown key "retries"/);
    await badChannel({ ...CHANNEL, repeat_interval: 'often' }, /^repeat_interval: expected a duration/);
    await badChannel(
      { ...CHANNEL, matchers: [{ name: 'a', value: '(', op: '=~' }] },
      /^matchers\[0\]\.value: not a valid regular expression/,
    );

    const badSilence = async (body: unknown, message: RegExp) =>
      assertError(await call('POST', '/api/v1/alert/silences', { body }), 400, 'E_BAD_BODY', message);
    await badSilence({ ...SILENCE, matchers: [] }, /^matchers: must have at least 1 item/);
    await badSilence(
      { ...SILENCE, expires_at: Date.now() + 1000 },
      /^expires_at: give exactly one of expires_at \(unix ms\) or duration/,
    );
    await badSilence({ matchers: SILENCE.matchers }, /^expires_at: give exactly one/);
    await badSilence(
      { ...SILENCE, matchers: [{ name: 'a', value: 'b', op: '~' }] },
      /^matchers\[0\]\.op: expected one of "=", "!=", "=~"/,
    );

    // A refused PUT leaves the rule as it was.
    const refused = await call('PUT', `/api/v1/alert/rules/${ruleId}`, { body: { ...RULE, threshold: 'x' } });
    assertError(refused, 400, 'E_BAD_BODY', /^threshold:/);
    assert.equal((await call('GET', `/api/v1/alert/rules/${ruleId}`)).json.threshold, 50);
    assert.equal((await call('GET', '/api/v1/alert/rules')).json.rules.length, 1);
    assert.equal((await call('GET', '/api/v1/alert/notify')).json.channels.length, 1);
    assert.equal((await call('GET', '/api/v1/alert/silences')).json.silences.length, 0);
  });
});

test('alert api: unknown ids are 404 and bad query parameters 400, each naming what was wrong', async () => {
  await withSession(async (s) => {
    const call = (method: string, path: string, body?: unknown) =>
      s.request(method, path, { auth: s.admin, body });
    assertError(
      await call('GET', '/api/v1/alert/rules/rul_nope'),
      404,
      'E_NOT_FOUND',
      /alert rule rul_nope not found/,
    );
    assertError(await call('PUT', '/api/v1/alert/rules/rul_nope', RULE), 404, 'E_NOT_FOUND', /rul_nope/);
    assertError(await call('DELETE', '/api/v1/alert/rules/rul_nope'), 404, 'E_NOT_FOUND', /rul_nope/);
    assertError(
      await call('PUT', '/api/v1/alert/notify/chn_nope', CHANNEL),
      404,
      'E_NOT_FOUND',
      /notification channel chn_nope/,
    );
    assertError(await call('DELETE', '/api/v1/alert/notify/chn_nope'), 404, 'E_NOT_FOUND', /chn_nope/);
    assertError(
      await call('DELETE', '/api/v1/alert/silences/sil_nope'),
      404,
      'E_NOT_FOUND',
      /silence sil_nope not found/,
    );
    assertError(
      await call('GET', '/api/v1/alert/nothing'),
      404,
      'E_NOT_FOUND',
      /no route GET \/api\/v1\/alert\/nothing/,
    );

    assertError(
      await call('GET', '/api/v1/alert/alerts?status=firing'),
      400,
      'E_BAD_QUERY',
      /unknown query parameter "status"/,
    );
    assertError(
      await call('GET', '/api/v1/alert/alerts?state=burning'),
      400,
      'E_BAD_QUERY',
      /^state: expected one of/,
    );
    assertError(
      await call('GET', '/api/v1/alert/history?limit=0'),
      400,
      'E_BAD_QUERY',
      /^limit: expected an integer from 1 to 1000/,
    );
    assertError(await call('GET', '/api/v1/alert/history?limit=5000'), 400, 'E_BAD_QUERY', /^limit:/);
    assertError(await call('GET', '/api/v1/alert/history?from=yesterday'), 400, 'E_BAD_QUERY', /^from:/);
    assertError(await call('GET', '/api/v1/alert/history?before=-1'), 400, 'E_BAD_QUERY', /^before:/);
    assertError(await call('GET', '/api/v1/alert/history?state=on'), 400, 'E_BAD_QUERY', /^state:/);
    assertError(await call('GET', '/api/v1/alert/history?limit=1&limit=2'), 400, 'E_BAD_QUERY', /^limit:/);
  });
});
