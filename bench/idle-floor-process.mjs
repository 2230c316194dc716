/**
 * One process of bench/idle-floor.bench.ts: a daemon or a plugin host with no Outpost code, only
 * what ../shared/DESIGN.md has each one run, added layer by layer (argv: role, then layers). It
 * uses each library once, as the agent does at start-up, prints "ready" and waits to be measured.
 * Plain JavaScript: under type stripping Node loads its TypeScript stripper, about 30 MB of RSS.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [role, dir, ...layers] = process.argv.slice(2);
// The agent's own copies of the libraries, resolved as the installed agent resolves them.
const require = createRequire(new URL('../packages/agent-core/package.json', import.meta.url));
const keep = [];

if (role === 'daemon') {
  if (layers.includes('storage')) {
    const Database = require('better-sqlite3');
    const db = new Database(join(dir, 'queue.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS chunks (payload BLOB)');
    db.prepare('INSERT INTO chunks VALUES (?)').run(Buffer.alloc(200, 97));
    const { Compressor } = require('zstd-napi');
    const zstd = new Compressor();
    zstd.setParameters({ compressionLevel: 3 });
    zstd.compress(Buffer.alloc(64 * 1024, 97));
    keep.push(db, zstd);
  }
  if (layers.includes('pino')) {
    const pino = require('pino');
    const log = pino({}, pino.destination('/dev/null'));
    log.info({ layer: 'pino' }, 'started');
    keep.push(log);
  }
  if (layers.includes('undici')) {
    // The dispatchers only, as @outpost/service/undici loads them (undici's index loads far more).
    Object.assign(
      require('undici/lib/dispatcher/dispatcher.js').prototype,
      require('undici/lib/api/index.js'),
    );
    const Pool = require('undici/lib/dispatcher/pool.js');
    keep.push(new Pool('http://127.0.0.1:9'));
  }
  if (layers.includes('http')) {
    // As the agent loads it: an ESM import of node:http reads its lazy WebSocket getters, which
    // load Node's bundled undici (about 13 MB).
    const http = process.getBuiltinModule('node:http');
    const server = http.createServer((_req, res) => res.end('{}'));
    await new Promise((listening) => server.listen(join(dir, 'control.sock'), listening));
    keep.push(server);
  }
} else if (role === 'host') {
  if (layers.includes('isolate')) {
    const ivm = require('isolated-vm');
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    const context = isolate.createContextSync();
    context.evalSync('globalThis.collect = () => JSON.stringify([{ kind: "metric", name: "x", value: 1 }])');
    context.evalSync('collect()');
    keep.push(isolate, context);
  }
} else {
  throw new Error(`idle-floor-process: role must be daemon or host, got ${role}`);
}
process.stdout.write('ready\n');
setInterval(() => keep.length, 10_000);
