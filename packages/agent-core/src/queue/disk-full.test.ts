import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import { openQueue, rec } from './fixtures.ts';

/** A 4 MiB tmpfs, so the disk really fills; needs root (mount), else the test is skipped. */
function mountSmallDisk(): { dir: string; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('disk full: enqueue fails with E_QUEUE_DISK_FULL storing nothing, and works again once space returns', async (t) => {
  const disk = mountSmallDisk();
  if (typeof disk === 'string') {
    t.skip(disk);
    return;
  }
  try {
    const q = openQueue(path.join(disk.dir, 'queue.db'), { maxBytes: 64 * 1024 * 1024 });
    // Ballast takes most of the disk, so the queue hits the wall after a few hundred KiB.
    const ballast = path.join(disk.dir, 'ballast');
    fs.writeFileSync(ballast, Buffer.alloc(3 * 1024 * 1024));

    let accepted = 0;
    let failure: unknown;
    for (let i = 0; i < 10_000 && failure === undefined; i++) {
      const records = Array.from({ length: 50 }, (_, j) => rec('metric', i * 50 + j, 400));
      try {
        q.enqueue(records);
        accepted += records.length;
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(
      isOutpostError(failure, 'E_QUEUE_DISK_FULL'),
      `expected E_QUEUE_DISK_FULL, got ${String(failure)}`,
    );
    assert.match((failure as Error).message, /disk holding .* is full/);
    assert.equal(q.stats().depth, accepted, 'the failed enqueue stored nothing and counted nothing');

    fs.rmSync(ballast);
    q.enqueue([rec('metric', 1_000_000, 400)]);
    accepted++;

    const seen: number[] = [];
    for (let batch = q.lease({ maxRecords: 500, maxBytes: 1e9 }); batch !== null; ) {
      seen.push(...batch.records.map((r) => r.seq));
      q.ack(batch.seq);
      batch = q.lease({ maxRecords: 500, maxBytes: 1e9 });
    }
    assert.equal(seen.length, accepted, 'every accepted record comes out once');
    assert.equal(new Set(seen).size, seen.length);
    await q.close();
  } finally {
    disk.unmount();
  }
});
