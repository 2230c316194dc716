import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { assertEachOnce, Harness, numbered, waitFor } from './fixtures.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

/** A writer like an application's logger: appends through its own fd until told to reopen. */
class Writer {
  readonly path: string;
  #fd: number;
  next = 0;

  constructor(filePath: string) {
    this.path = filePath;
    this.#fd = fs.openSync(filePath, 'a');
  }

  write(count: number): void {
    let text = '';
    for (let i = 0; i < count; i++) text += `${numbered(this.next++)}\n`;
    fs.writeSync(this.#fd, text);
  }

  reopen(): void {
    fs.closeSync(this.#fd);
    this.#fd = fs.openSync(this.path, 'a');
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}

test('logfile: rotation by rename while writing loses and repeats no line', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  const writer = new Writer(file);
  const input = h.input({ rotateWaitMs: 200 });
  for (let rotation = 1; rotation <= 5; rotation++) {
    for (let i = 0; i < 20; i++) {
      writer.write(25);
      await tick();
    }
    // logrotate's create mode: rename, new file at the path, then the app reopens — and writes a
    // few more lines to the renamed file before it does, which must be read too.
    fs.renameSync(file, h.file(`app.log.${rotation}`));
    writer.write(10);
    await tick();
    fs.writeFileSync(file, '');
    writer.write(10);
    writer.reopen();
    // Rotations come far apart in life: let the input find the new file before the next one.
    writer.write(1);
    const first = numbered(writer.next - 1);
    await waitFor(`the first line of rotation ${rotation}'s new file`, () => h.bodies().includes(first));
  }
  writer.write(100);
  writer.close();
  assertEachOnce(await h.waitForBodies(writer.next), writer.next);
  assert.ok(input.stats().rotations >= 5, `rotations counted: ${input.stats().rotations}`);
  await waitFor(
    'rotated files closed and their cursors deleted',
    () => h.queue.cursors('logfile:app:').size === 2,
  );
  assert.equal(input.stats().filesWatched, 1);
  await h.close();
});

test('logfile: a file renamed to a name the glob also matches is followed, not read again', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  const writer = new Writer(file);
  const input = h.input({ paths: [h.file('app.log*')] });
  for (let rotation = 1; rotation <= 3; rotation++) {
    for (let i = 0; i < 10; i++) {
      writer.write(20);
      await tick();
    }
    fs.renameSync(file, h.file(`app.log.${rotation}`));
    writer.write(5);
    writer.reopen();
  }
  writer.write(50);
  writer.close();
  assertEachOnce(await h.waitForBodies(writer.next), writer.next);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEachOnce(h.bodies(), writer.next);
  assert.equal(input.stats().filesWatched, 4, 'each rotated file is still matched and watched');
  await h.close();
});

test('logfile: copytruncate is detected and the new content read from offset 0', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  const writer = new Writer(file);
  const input = h.input();
  writer.write(500);
  await h.waitForBodies(500);
  // copytruncate: copy aside (not matched by the glob), truncate in place; the app's O_APPEND fd
  // keeps writing at the new end.
  fs.copyFileSync(file, h.file('app.log.1'));
  fs.truncateSync(file, 0);
  for (let i = 0; i < 10; i++) {
    writer.write(10);
    await tick();
  }
  writer.close();
  assertEachOnce(await h.waitForBodies(600), 600);
  assert.equal(input.stats().truncations, 1);
  await h.close();
});

test('logfile: plain truncation (> file) restarts from 0 and is counted', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, `${numbered(0)}\n${numbered(1)}\n`);
  const input = h.input();
  await h.waitForBodies(2);
  fs.writeFileSync(file, `${numbered(2)}\n`);
  await h.waitForBodies(3);
  fs.appendFileSync(file, `${numbered(3)}\n`);
  assertEachOnce(await h.waitForBodies(4), 4);
  assert.equal(input.stats().truncations, 1);
  const cursor = JSON.parse(
    [...h.queue.cursors('logfile:app:').values()].find((v) => v.includes('"offset"')) ?? '{}',
  );
  assert.equal(cursor.offset, fs.statSync(file).size);
  await h.close();
});

test('logfile: a file deleted and re-created is read again from its start, the old cursor removed', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, `${numbered(0)}\n`);
  const input = h.input({ rotateWaitMs: 100 });
  await h.waitForBodies(1);
  const oldKeys = [...h.queue.cursors('logfile:app:').keys()];
  fs.unlinkSync(file);
  fs.writeFileSync(file, `${numbered(1)}\n${numbered(2)}\n`);
  assertEachOnce(await h.waitForBodies(3), 3);
  await waitFor('the deleted file retired', () => input.stats().filesWatched === 1);
  await waitFor('its cursor deleted', () => {
    const keys = [...h.queue.cursors('logfile:app:').keys()];
    return keys.length === 2 && oldKeys.filter((k) => !k.endsWith('@input')).every((k) => !keys.includes(k));
  });
  await h.close();
});

test('logfile: a file truncated and rewritten past the stored offset while stopped is read from its start', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, `${numbered(0)}\n`);
  const first = h.input();
  await h.waitForBodies(1);
  await first.close();
  // Same inode, other bytes, longer than before: only the fingerprint tells.
  fs.writeFileSync(file, `${numbered(1)}\n${numbered(2)}\n${numbered(3)}\n`);
  const second = h.input();
  assertEachOnce(await h.waitForBodies(4), 4);
  assert.equal(second.stats().truncations, 1);
  await h.close();
});

test('logfile: a file rotated away while stopped is read to its end from the stored offset', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, `${numbered(0)}\n`);
  const first = h.input();
  await h.waitForBodies(1);
  await first.close();
  fs.appendFileSync(file, `${numbered(1)}\n`);
  fs.renameSync(file, h.file('app.log.1'));
  fs.writeFileSync(file, `${numbered(2)}\n`);
  const second = h.input({ rotateWaitMs: 100 });
  assertEachOnce(await h.waitForBodies(3), 3);
  assert.deepEqual(h.bodies(), [numbered(0), numbered(1), numbered(2)], 'the rotated file first');
  await waitFor('the rotated file retired', () => second.stats().filesWatched === 1);
  await h.close();
});
