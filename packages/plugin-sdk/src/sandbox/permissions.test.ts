import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseManifest } from '../manifest/index.ts';
import { isOutpostError, PluginSandbox, type SandboxLimits } from './index.ts';

let server: http.Server;
let other: http.Server;
let origin: string;
let otherOrigin: string;
const seen: { method: string; url: string; body: string; header: string | undefined }[] = [];

async function listen(handler: http.RequestListener): Promise<[http.Server, string]> {
  const s = http.createServer(handler);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return [s, `http://127.0.0.1:${(s.address() as AddressInfo).port}`];
}

before(async () => {
  [other, otherOrigin] = await listen((_req, res) => res.end('other origin'));
  [server, origin] = await listen((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        header: req.headers['x-probe'] as string,
      });
      if (req.url === '/redirect-away') {
        res.writeHead(302, { location: `${otherOrigin}/` }).end();
      } else if (req.url === '/redirect-here') {
        res.writeHead(303, { location: '/final' }).end();
      } else if (req.url === '/big') {
        res.end('x'.repeat(10_000));
      } else {
        res.writeHead(201, { 'x-answer': 'yes' }).end(`got ${req.method} ${req.url} ${body}`);
      }
    });
  });
});

after(() => {
  server.closeAllConnections();
  server.close();
  other.closeAllConnections();
  other.close();
});

async function load(
  collect: string,
  permissions: Record<string, unknown>,
  limits: Partial<SandboxLimits> = {},
) {
  const manifest = parseManifest(
    {
      name: 'perm',
      version: '1.0.0',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['collect'],
      permissions,
    },
    'test manifest',
  );
  return PluginSandbox.load({
    manifest,
    code: `export default { async collect(ctx) { ${collect} } };`,
    limits,
  });
}

const isCode = (code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(isOutpostError(err, code), `expected ${code}, got ${String(err)}`);
  if (message) assert.match(err.message, message);
  return true;
};

test('http to an allowed origin is performed by the host', async (t) => {
  const sandbox = await load(
    `const res = await ctx.http.request({ url: '${origin}/path?q=1', method: 'post', headers: { 'x-probe': 'p' }, body: 'hello' });
     return [{ kind: 'event', name: 'http', body: res.body, attrs: { status: res.status, answer: res.headers['x-answer'], url: res.url, timed: res.durationMs >= 0 } }];`,
    { http: [origin] },
  );
  t.after(() => sandbox.dispose());
  const [record] = await sandbox.collect();
  assert.equal(record?.body, 'got POST /path?q=1 hello');
  assert.deepEqual(record?.attrs, { status: 201, answer: 'yes', url: `${origin}/path?q=1`, timed: true });
  assert.deepEqual(seen.at(-1), { method: 'POST', url: '/path?q=1', body: 'hello', header: 'p' });
});

test('http to an origin not allowed: E_PLUGIN_PERMISSION, and nothing is sent', async (t) => {
  const before = seen.length;
  const sandbox = await load(`await ctx.http.request({ url: '${otherOrigin}/' }); return [];`, {
    http: [origin],
  });
  t.after(() => sandbox.dispose());
  await assert.rejects(
    sandbox.collect(),
    isCode(
      'E_PLUGIN_PERMISSION',
      new RegExp(`plugin "perm": http to ${otherOrigin} is not allowed \\(permissions.http: ${origin}\\)`),
    ),
  );
  assert.equal(seen.length, before);
  const none = await load(`await ctx.http.request({ url: '${origin}/' }); return [];`, {});
  t.after(() => none.dispose());
  await assert.rejects(none.collect(), isCode('E_PLUGIN_PERMISSION', /permissions.http: none/));
});

test('a refused request the plugin catches is an error it can see, with its code', async (t) => {
  const sandbox = await load(
    `try { await ctx.http.request({ url: 'https://example.com/' }); } catch (err) { return [{ kind: 'event', name: 'refused', attrs: { code: err.code } }]; }`,
    { http: [origin] },
  );
  t.after(() => sandbox.dispose());
  const [record] = await sandbox.collect();
  assert.equal(record?.attrs.code, 'E_PLUGIN_PERMISSION');
});

test('redirects: followed within the allowed origins, refused when they leave them', async (t) => {
  const follow = await load(
    `const res = await ctx.http.request({ url: '${origin}/redirect-here', method: 'POST', body: 'b' });
     const manual = await ctx.http.request({ url: '${origin}/redirect-away', redirect: 'manual' });
     return [{ kind: 'event', name: 'r', body: res.body, attrs: { status: res.status, manual: manual.status } }];`,
    { http: [origin] },
  );
  t.after(() => follow.dispose());
  const [record] = await follow.collect();
  assert.equal(record?.body, 'got GET /final ', 'a 303 turns the POST into a GET');
  assert.deepEqual(record?.attrs, { status: 201, manual: 302 });

  const away = await load(`await ctx.http.request({ url: '${origin}/redirect-away' }); return [];`, {
    http: [origin],
  });
  t.after(() => away.dispose());
  await assert.rejects(
    away.collect(),
    isCode(
      'E_PLUGIN_PERMISSION',
      new RegExp(`redirect from ${origin} to ${otherOrigin} leaves the allowed origins`),
    ),
  );
});

test('network errors and oversized answers reach the plugin as E_PLUGIN_HTTP it can handle', async (t) => {
  const closed = await listen(() => {});
  const deadOrigin = closed[1];
  await new Promise<void>((resolve) => closed[0].close(() => resolve()));
  const sandbox = await load(
    `const codes = [];
     for (const url of ['${deadOrigin}/', '${origin}/big']) {
       try { await ctx.http.request({ url }); codes.push('ok'); } catch (err) { codes.push(err.code + ' ' + err.message); }
     }
     return [{ kind: 'event', name: 'errors', attrs: { dead: codes[0], big: codes[1] } }];`,
    { http: [origin, deadOrigin] },
    { maxHttpResponseBytes: 1000 },
  );
  t.after(() => sandbox.dispose());
  const [record] = await sandbox.collect();
  assert.match(String(record?.attrs.dead), /^E_PLUGIN_HTTP http.request\(\): GET .* failed: ECONNREFUSED/);
  assert.match(String(record?.attrs.big), /^E_PLUGIN_HTTP .*over 1000 bytes/);
});

test('files: inside the globs reads; outside, /etc/shadow and escaping symlinks are refused', async (t) => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-files-')));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-outside-')));
  t.after(() => fs.rmSync(outside, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.writeFileSync(path.join(dir, 'logs', 'app.log'), 'line one\n');
  fs.writeFileSync(path.join(dir, 'logs', 'big.log'), 'x'.repeat(2000));
  fs.writeFileSync(path.join(outside, 'secret.log'), 'secret');
  fs.symlinkSync(path.join(outside, 'secret.log'), path.join(dir, 'logs', 'escape.log'));
  fs.symlinkSync(path.join(dir, 'logs', 'app.log'), path.join(dir, 'logs', 'alias.log'));
  const permissions = { files: [`${dir}/logs/*.log`] };

  const read = async (file: string) => {
    const sandbox = await load(
      `return [{ kind: 'log', name: 'f', body: await ctx.files.read(${JSON.stringify(file)}) }];`,
      permissions,
      {
        maxFileBytes: 1000,
      },
    );
    try {
      return (await sandbox.collect())[0]?.body;
    } finally {
      await sandbox.dispose();
    }
  };
  assert.equal(await read(path.join(dir, 'logs', 'app.log')), 'line one\n');
  assert.equal(
    await read(path.join(dir, 'logs', 'alias.log')),
    'line one\n',
    'a link that stays inside is fine',
  );
  await assert.rejects(
    read(path.join(outside, 'secret.log')),
    isCode('E_PLUGIN_PERMISSION', /reading .*secret\.log is not allowed/),
  );
  await assert.rejects(
    read('/etc/shadow'),
    isCode('E_PLUGIN_PERMISSION', /reading \/etc\/shadow is not allowed/),
  );
  await assert.rejects(
    read(`${dir}/logs/../../${path.basename(outside)}/secret.log`),
    isCode('E_PLUGIN_PERMISSION'),
  );
  await assert.rejects(
    read(path.join(dir, 'logs', 'escape.log')),
    isCode('E_PLUGIN_PERMISSION', /resolves to .*secret\.log, outside permissions.files/),
  );
  await assert.rejects(
    read(path.join(dir, 'logs', 'big.log')),
    isCode('E_PLUGIN_THREW', /E_PLUGIN_FILE|over 1000/),
  );
  await assert.rejects(read('logs/app.log'), isCode('E_PLUGIN_THREW', /is not an absolute path/));
});

test('https: the answer carries the server certificate dates', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const tlsServer = https.createServer(
    { key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
    (_req, res) => res.end('secure'),
  );
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    tlsServer.closeAllConnections();
    tlsServer.close();
  });
  const tlsOrigin = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  const manifest = parseManifest(
    {
      name: 'tls',
      version: '1.0.0',
      apiVersion: 1,
      entry: 'index.js',
      capabilities: ['collect'],
      permissions: { http: [tlsOrigin] },
    },
    'test manifest',
  );
  const code = `export default { async collect(ctx) {
    try {
      const res = await ctx.http.request({ url: '${tlsOrigin}/' });
      return [{ kind: 'event', name: 'tls', body: res.body, attrs: { validTo: res.tls.validTo, subject: res.tls.subject } }];
    } catch (err) { return [{ kind: 'event', name: 'tls.error', body: err.message }]; }
  } };`;
  const untrusted = await PluginSandbox.load({ manifest, code });
  t.after(() => untrusted.dispose());
  const [refused] = await untrusted.collect();
  assert.equal(refused?.name, 'tls.error');
  assert.match(String(refused?.body), /self.signed/i);

  const trusted = await PluginSandbox.load({ manifest, code, httpCa: fs.readFileSync(cert, 'utf8') });
  t.after(() => trusted.dispose());
  const [record] = await trusted.collect();
  assert.equal(record?.body, 'secure');
  assert.equal(record?.attrs.subject, '127.0.0.1');
  const days = (Number(record?.attrs.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 28 && days <= 30, `certificate valid for ${days} more days`);
});
