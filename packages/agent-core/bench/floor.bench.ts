/**
 * The raw floor of the agent's path with no Outpost code: better-sqlite3 insert + delete, zstd of a
 * JSON batch, and an undici POST of it to a loopback server, per 200-byte record, on one thread.
 */
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { compress } from 'zstd-napi';
import { rate, record200, report } from '../../../bench/report.ts';

const RECORDS = 200_000;
const BATCH = 1000;
const payloads = Array.from({ length: RECORDS }, (_, i) => JSON.stringify(record200(i)));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-floor-'));
const db = new Database(path.join(dir, 'floor.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE r (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO r(payload) VALUES (?)');
const select = db.prepare('SELECT seq, payload FROM r WHERE seq > ? ORDER BY seq LIMIT ?');
const remove = db.prepare('DELETE FROM r WHERE seq <= ?');
let started = performance.now();
const insertMany = db.transaction((rows: string[]) => {
  for (const row of rows) insert.run(row);
});
for (let i = 0; i < RECORDS; i += 100) insertMany(payloads.slice(i, i + 100));
let last = 0;
for (;;) {
  const rows = select.all(last, BATCH) as Array<{ seq: number; payload: string }>;
  if (rows.length === 0) break;
  last = rows[rows.length - 1]!.seq;
  remove.run(last);
}
const sqlitePerS = rate(RECORDS, performance.now() - started);
db.close();
fs.rmSync(dir, { recursive: true, force: true });

const bodies: Buffer[] = [];
let rawBytes = 0;
let zstdBytes = 0;
started = performance.now();
for (let i = 0; i < RECORDS; i += BATCH) {
  const raw = Buffer.from(`{"records":[${payloads.slice(i, i + BATCH).join(',')}]}`);
  const body = compress(raw);
  rawBytes += raw.length;
  zstdBytes += body.length;
  bodies.push(body);
}
const zstdPerS = rate(RECORDS, performance.now() - started);

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
started = performance.now();
for (const body of bodies) {
  const res = await pool.request({
    method: 'POST',
    path: '/',
    body,
    headers: { 'content-encoding': 'zstd' },
  });
  await res.body.text();
}
const postPerS = rate(RECORDS, performance.now() - started);
await pool.close();
server.close();

// One thread doing all three in turn: the per-record costs add up.
const floorPerS = Math.round(1 / (1 / sqlitePerS + 1 / zstdPerS + 1 / postPerS));
console.log(
  `floor: sqlite insert+delete ${sqlitePerS}/s, zstd ${zstdPerS}/s (ratio ${(zstdBytes / rawBytes).toFixed(3)}), undici POST ${postPerS}/s -> ${floorPerS}/s in series`,
);
report('floor', {
  sqlite_insert_delete_per_s: sqlitePerS,
  zstd_per_s: zstdPerS,
  zstd_ratio: Number((zstdBytes / rawBytes).toFixed(4)),
  undici_post_per_s: postPerS,
  floor_per_s: floorPerS,
});
