import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Queue } from '../../queue/index.ts';
import { assertEachOnce, numbered, silent, tempDir } from './fixtures.ts';

const CHILD = path.join(import.meta.dirname, 'crash-child.ts');

function spawnChild(args: string[]): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, [CHILD, ...args], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('started')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`child exited before starting: ${code ?? signal}`)),
    );
  });
  return { child, started };
}

test('logfile: kill -9 at random moments while a writer appends; every line is stored exactly once', async () => {
  const dir = tempDir();
  const queuePath = path.join(dir, 'queue.db');
  const logPath = path.join(dir, 'app.log');
  const total = 40_000;
  fs.writeFileSync(logPath, '');

  let written = 0;
  const writer = (async () => {
    const fd = fs.openSync(logPath, 'a');
    while (written < total) {
      let text = '';
      for (let i = 0; i < 80 && written < total; i++) text += `${numbered(written++)}\n`;
      fs.writeSync(fd, text);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    fs.closeSync(fd);
  })();

  let kills = 0;
  for (let i = 0; i < 8; i++) {
    const { child, started } = spawnChild([queuePath, path.join(dir, '*.log')]);
    const exited = once(child, 'exit');
    await started;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
    child.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');
    kills++;
  }
  await writer;

  const size = fs.statSync(logPath).size;
  const { child } = spawnChild([queuePath, path.join(dir, '*.log'), String(size)]);
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, 'the last run read to the end and closed cleanly');

  const queue = Queue.open({
    path: queuePath,
    maxBytes: 1024 ** 3,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: silent,
  });
  const bodies: string[] = [];
  for (;;) {
    const batch = queue.lease({ maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 });
    if (batch === null) break;
    for (const record of batch.records) bodies.push(record.body ?? '');
    queue.ack(batch.seq);
  }
  await queue.close();
  assert.equal(kills, 8);
  assertEachOnce(bodies, total);
});
