import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Client, getGlobalDispatcher, Pool } from './index.ts';

test('undici: loading the dispatchers loads neither undici index nor Node bundled undici', () => {
  const script = `
    import { createRequire } from 'node:module';
    const { getGlobalDispatcher } = await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});
    getGlobalDispatcher();
    const cached = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(JSON.stringify({
      index: cached.some((file) => /[\\\\/]undici[\\\\/]index\\.js$/.test(file)),
      bundled: process.moduleLoadList.some((m) => m.includes('internal/deps/undici')),
    }));`;
  const loaded = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );
  assert.deepEqual(loaded, { index: false, bundled: false });
});

test('undici: the global dispatcher, a Pool and a Client carry request() as the index would add it', async (t) => {
  const server = http.createServer((req, res) => res.end(`${req.method} ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = new Pool(origin);
  const client = new Client(origin);
  t.after(() => Promise.all([pool.close(), client.close()]));
  for (const dispatcher of [getGlobalDispatcher(), pool, client]) {
    const res = await dispatcher.request({ origin, path: '/x?y=1', method: 'POST', body: 'b' });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'POST /x?y=1');
  }
});
