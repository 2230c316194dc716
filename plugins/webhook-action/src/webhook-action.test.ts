import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, type TestContext, test } from 'node:test';
import { alert } from '@outpost/plugin-sdk';
import { FakeClock, loadPlugin, MemoryStateStore } from '@outpost/plugin-sdk/testing';
import { buildPlugin } from '../build.ts';

const pluginDir = new URL('..', import.meta.url).pathname;

before(async () => {
  await buildPlugin();
});

interface Received {
  headers: http.IncomingHttpHeaders;
  method: string | undefined;
  body: string;
}

/** A webhook receiver answering with the given statuses in turn, then 200. */
async function receiver(
  t: TestContext,
  statuses: number[],
): Promise<{ url: string; origin: string; got: Received[] }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, method: req.method, body });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `${origin}/hook`, origin, got };
}

const cpuAlert = alert({
  name: 'threshold.cpu',
  state: 'firing',
  severity: 'critical',
  attrs: { host: 'web-1' },
  body: 'cpu is above 90',
});

test('POSTs the alert as JSON and records the delivery as an event', async (t) => {
  const hook = await receiver(t, []);
  await using plugin = await loadPlugin(pluginDir, {
    config: { url: hook.url, headers: { authorization: 'Bearer s3cret' } },
    permissions: { http: [hook.origin] },
  });
  const [event] = await plugin.action(cpuAlert);

  assert.equal(hook.got.length, 1);
  const [req] = hook.got;
  assert.equal(req?.method, 'POST');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers.authorization, 'Bearer s3cret');
  const sent = JSON.parse(req.body);
  assert.equal(sent.name, 'threshold.cpu');
  assert.equal(sent.kind, 'alert');
  assert.deepEqual(sent.attrs, { host: 'web-1', state: 'firing', severity: 'critical' });

  assert.equal(event?.kind, 'event');
  assert.equal(event.name, 'webhook.delivery');
  assert.deepEqual(event.attrs, {
    outcome: 'delivered',
    alert: 'threshold.cpu',
    url: hook.url,
    attempt: 1,
    status: 200,
  });
});

test('retries a failed delivery with backoff on collect, until it is delivered', async (t) => {
  const hook = await receiver(t, [503, 502]);
  const clock = new FakeClock();
  await using plugin = await loadPlugin(pluginDir, {
    config: { url: hook.url, backoffMs: 5000 },
    permissions: { http: [hook.origin] },
    clock,
  });
  const [first] = await plugin.action(cpuAlert);
  assert.equal(first?.attrs.outcome, 'retrying');
  assert.equal(first.attrs.status, 503);

  clock.advance(4_999);
  assert.deepEqual(await plugin.collect(), [], 'not before the backoff');
  assert.equal(hook.got.length, 1);

  clock.advance(1);
  const [second] = await plugin.collect();
  assert.deepEqual(
    [second?.attrs.outcome, second?.attrs.attempt, second?.attrs.status],
    ['retrying', 2, 502],
  );

  clock.advance(9_999);
  assert.deepEqual(await plugin.collect(), [], 'the backoff doubled');
  clock.advance(1);
  const [third] = await plugin.collect();
  assert.deepEqual([third?.attrs.outcome, third?.attrs.attempt], ['delivered', 3]);
  assert.equal(hook.got.length, 3);
  assert.ok(
    hook.got.every((r) => r.body === hook.got[0]?.body),
    'every attempt sends the same alert',
  );

  clock.advance(60_000);
  assert.deepEqual(await plugin.collect(), [], 'nothing left to send');
});

test('gives up after maxAttempts, and at once on an answer a retry cannot change', async (t) => {
  const hook = await receiver(t, [500, 500, 400]);
  const clock = new FakeClock();
  await using plugin = await loadPlugin(pluginDir, {
    config: { url: hook.url, maxAttempts: 2, backoffMs: 1000 },
    permissions: { http: [hook.origin] },
    clock,
  });
  await plugin.action(cpuAlert);
  clock.advance(1_000);
  const [failed] = await plugin.collect();
  assert.deepEqual(
    [failed?.attrs.outcome, failed?.attrs.attempt, failed?.attrs.error],
    ['failed', 2, 'HTTP 500'],
  );

  const [rejected] = await plugin.action(cpuAlert);
  assert.deepEqual([rejected?.attrs.outcome, rejected?.attrs.status], ['failed', 400]);
  clock.advance(600_000);
  assert.deepEqual(await plugin.collect(), []);
  assert.equal(hook.got.length, 3);
  assert.ok(plugin.logs.some((l) => l.level === 'error' && l.message.includes('webhook delivery failed')));
});

test('a URL whose origin is not granted fails with E_PLUGIN_PERMISSION, without retries', async (t) => {
  const hook = await receiver(t, []);
  await using plugin = await loadPlugin(pluginDir, {
    config: { url: hook.url },
    permissions: { http: ['http://127.0.0.1:1'] },
  });
  const [event] = await plugin.action(cpuAlert);
  assert.equal(event?.attrs.outcome, 'failed');
  assert.match(String(event.attrs.error), /E_PLUGIN_PERMISSION/);
  assert.equal(hook.got.length, 0);
  assert.ok(plugin.sandbox.alive);
});

test('pending retries survive a restart', async (t) => {
  const hook = await receiver(t, [503]);
  const clock = new FakeClock();
  const state = new MemoryStateStore();
  const options = { config: { url: hook.url }, permissions: { http: [hook.origin] }, clock, state };
  {
    await using plugin = await loadPlugin(pluginDir, options);
    assert.equal((await plugin.action(cpuAlert))[0]?.attrs.outcome, 'retrying');
  }
  await using plugin = await loadPlugin(pluginDir, options);
  clock.advance(5_000);
  const [event] = await plugin.collect();
  assert.equal(event?.attrs.outcome, 'delivered');
  assert.equal(hook.got.length, 2);
});
