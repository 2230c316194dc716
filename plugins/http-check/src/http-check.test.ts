import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { FakeClock, loadPlugin } from '@outpost/plugin-sdk/testing';
import { buildPlugin } from '../build.ts';

const pluginDir = new URL('..', import.meta.url).pathname;

before(async () => {
  await buildPlugin();
});

async function listen(server: http.Server | https.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `${server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}`;
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('reports status and duration of each URL, with the URL as attribute', async (t) => {
  const server = http.createServer((req, res) => res.writeHead(req.url === '/down' ? 503 : 200).end('ok'));
  const origin = await listen(server);
  t.after(() => server.close());

  await using plugin = await loadPlugin(pluginDir, {
    config: { urls: [`${origin}/health`, `${origin}/down`] },
    permissions: { http: [origin] },
  });
  const records = await plugin.collect();
  const status = records.filter((r) => r.name === 'http.check.status');
  assert.deepEqual(
    status.map((r) => [r.attrs.url, r.value]),
    [
      [`${origin}/health`, 200],
      [`${origin}/down`, 503],
    ],
  );
  const durations = records.filter((r) => r.name === 'http.check.duration');
  assert.equal(durations.length, 2);
  for (const d of durations) {
    assert.equal(d.unit, 'ms');
    assert.ok(typeof d.value === 'number' && d.value >= 0);
  }
  assert.equal(
    records.some((r) => r.name === 'http.check.tls.expiry_days'),
    false,
  );
});

test('an unreachable or forbidden URL is a record with attr error, and the others are still probed', async (t) => {
  const server = http.createServer((_req, res) => res.writeHead(204).end());
  const origin = await listen(server);
  t.after(() => server.close());
  const closed = http.createServer();
  const deadOrigin = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  await using plugin = await loadPlugin(pluginDir, {
    config: { urls: [`${deadOrigin}/`, 'http://127.0.0.2:9/', `${origin}/`] },
    permissions: { http: [origin, deadOrigin] },
  });
  const records = await plugin.collect();
  const byUrl = new Map(records.filter((r) => r.name === 'http.check.status').map((r) => [r.attrs.url, r]));
  assert.equal(byUrl.get(`${origin}/`)?.value, 204);
  const refused = byUrl.get(`${deadOrigin}/`);
  assert.equal(refused?.value, 0);
  assert.match(String(refused?.attrs.error), /E_PLUGIN_HTTP/);
  const forbidden = byUrl.get('http://127.0.0.2:9/');
  assert.equal(forbidden?.value, 0);
  assert.match(String(forbidden?.attrs.error), /E_PLUGIN_PERMISSION/);
  assert.ok(plugin.sandbox.alive);
  assert.ok(plugin.logs.some((l) => l.message.includes('probe failed')));
});

test('reports redirects as their 3xx status when followRedirects is false', async (t) => {
  const server = http.createServer((req, res) =>
    req.url === '/old' ? res.writeHead(301, { location: '/new' }).end() : res.writeHead(200).end(),
  );
  const origin = await listen(server);
  t.after(() => server.close());

  await using plugin = await loadPlugin(pluginDir, {
    config: { urls: [`${origin}/old`], followRedirects: false },
    permissions: { http: [origin] },
  });
  const [status] = await plugin.collect();
  assert.equal(status?.value, 301);
});

test('reports the days until the TLS certificate of an https URL expires', async (t) => {
  if (!hasOpenssl()) {
    t.skip('openssl is not installed');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-http-check-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const pem = fs.readFileSync(cert, 'utf8');
  const server = https.createServer({ key: fs.readFileSync(key), cert: pem }, (_req, res) =>
    res.writeHead(200).end(),
  );
  const origin = await listen(server);
  t.after(() => server.close());

  const clock = new FakeClock(Date.now());
  await using plugin = await loadPlugin(pluginDir, {
    config: { urls: [`${origin}/`] },
    permissions: { http: [origin] },
    httpCa: pem,
    clock,
  });
  const first = await plugin.collect();
  const expiry = first.find((r) => r.name === 'http.check.tls.expiry_days');
  assert.ok(expiry?.value === 29 || expiry?.value === 30, `expiry_days ${expiry?.value}`);
  assert.equal(expiry.attrs.url, `${origin}/`);

  // A second probe in the same load reports the certificate too (TLS sessions are not resumed).
  clock.advance(20 * 86_400_000);
  const later = (await plugin.collect()).find((r) => r.name === 'http.check.tls.expiry_days');
  assert.ok(later?.value === 9 || later?.value === 10, `expiry_days ${later?.value}`);
});

test('refuses a config without urls', async () => {
  await assert.rejects(loadPlugin(pluginDir, { config: {} }), { code: 'E_PLUGIN_CONFIG' });
});
