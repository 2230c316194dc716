import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { isOutpostError } from '../../errors.ts';
import { assertEachOnce, Harness, numbered, silent, waitFor } from './fixtures.ts';
import { LogFileInput } from './index.ts';

const lines = (from: number, to: number) => {
  let text = '';
  for (let i = from; i < to; i++) text += `${numbered(i)}\n`;
  return text;
};

test('logfile: lines appended while reading become log records with file and host attrs', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, lines(0, 100));
  const input = h.input();
  await h.waitForBodies(100);
  for (let i = 100; i < 2000; i += 100) {
    fs.appendFileSync(file, lines(i, i + 100));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const bodies = await h.waitForBodies(2000);
  assertEachOnce(bodies, 2000);
  const [first] = h.received;
  assert.ok(first);
  assert.equal(first.kind, 'log');
  assert.equal(first.name, 'app');
  assert.equal(first.source, 'log');
  assert.ok(Math.abs(first.ts - Date.now()) < 60_000);
  assert.deepEqual(first.attrs, {
    'log.file.path': file,
    'log.file.name': 'app.log',
    'host.name': 'test-host',
  });
  const stats = input.stats();
  assert.equal(stats.lines, 2000);
  assert.equal(stats.records, 2000);
  assert.equal(stats.filesWatched, 1);
  assert.equal(stats.bytesRead, fs.statSync(file).size);
  const cursor = JSON.parse(h.queue.cursors('logfile:app:').values().next().value ?? '{}');
  assert.equal(cursor.offset, fs.statSync(file).size, 'the committed offset is the end of the last line');
  await h.close();
});

test('logfile: start_at end skips what files hold at the first start; later files are read whole', async () => {
  const h = new Harness();
  fs.writeFileSync(h.file('old.log'), 'before start\n'.repeat(50));
  const first = h.input({ startAt: 'end' });
  await waitFor('the first start committed', () => h.queue.cursors('logfile:app:').size === 2);
  fs.appendFileSync(h.file('old.log'), `${numbered(0)}\n`);
  fs.writeFileSync(h.file('new.log'), `${numbered(1)}\n`);
  await h.waitForBodies(2);
  await first.close();
  // Created while stopped: not a file present at the first start, so it is read from its beginning.
  fs.writeFileSync(h.file('while-stopped.log'), `${numbered(2)}\n`);
  h.input({ startAt: 'end' });
  assertEachOnce(await h.waitForBodies(3), 3);
  await h.close();
});

test('logfile: start_at beginning reads files present at start from their first line', async () => {
  const h = new Harness();
  fs.writeFileSync(h.file('a.log'), lines(0, 10));
  fs.writeFileSync(h.file('b.log'), lines(10, 20));
  h.input({ startAt: 'beginning' });
  assertEachOnce(await h.waitForBodies(20), 20);
  await h.close();
});

test('logfile: restart mid-file resumes exactly after the last committed line', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, lines(0, 3000));
  // Small batches, so the close lands between commits.
  let input = h.input({ batchMaxRecords: 7 });
  await waitFor('some lines read', () => input.stats().records > 500);
  await input.close();
  const committed = h.bodies().length;
  assert.ok(committed < 3000, `closed mid-file (${committed} lines committed)`);
  fs.appendFileSync(file, lines(3000, 3500));
  await h.reopenQueue();
  input = h.input({ batchMaxRecords: 7 });
  assertEachOnce(await h.waitForBodies(3500), 3500);
  assert.equal(input.stats().lines, 3500 - committed, 'the second run read only what was left');
  await h.close();
});

test('logfile: new files matching the glob are read from the beginning; excluded ones are not', async () => {
  const h = new Harness();
  fs.writeFileSync(h.file('a.log'), lines(0, 5));
  const input = h.input({ exclude: ['skip-*.log'] });
  await h.waitForBodies(5);
  fs.writeFileSync(h.file('b.log'), lines(5, 10));
  fs.writeFileSync(h.file('skip-me.log'), 'excluded\n');
  fs.writeFileSync(h.file('c.txt'), 'not matched\n');
  fs.mkdirSync(h.file('sub'));
  fs.writeFileSync(h.file('sub/d.log'), 'not matched either\n');
  fs.writeFileSync(h.file('e.log'), lines(10, 15));
  await h.waitForBodies(15);
  // One more poll and event round for anything that should not be there.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEachOnce(h.bodies(), 15);
  assert.equal(input.stats().filesWatched, 3);
  await h.close();
});

test('logfile: multiline records by start pattern keep stack traces together', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  const trace = [
    '2026-01-01 00:00:00 ERROR boom',
    'java.lang.IllegalStateException: bad',
    '\tat com.example.A.run(A.java:10)',
    '\tat com.example.B.call(B.java:20)',
  ];
  fs.writeFileSync(file, `${trace.join('\n')}\n2026-01-01 00:00:01 INFO next\n`);
  h.input({ multiline: { startPattern: '^\\d{4}-\\d{2}-\\d{2}', timeoutMs: 200 } });
  // The last event has no following start line: the timeout emits it.
  const bodies = await h.waitForBodies(2);
  assert.deepEqual(bodies, [trace.join('\n'), '2026-01-01 00:00:01 INFO next']);
  fs.appendFileSync(file, `2026-01-01 00:00:02 WARN a\n  more\n2026-01-01 00:00:03 INFO b\n`);
  assert.deepEqual((await h.waitForBodies(4)).slice(2), [
    '2026-01-01 00:00:02 WARN a\n  more',
    '2026-01-01 00:00:03 INFO b',
  ]);
  await h.close();
});

test('logfile: multiline max_lines cuts an endless event into flagged parts', async () => {
  const h = new Harness();
  fs.writeFileSync(h.file('app.log'), `START\n${'  cont\n'.repeat(9)}`);
  h.input({ multiline: { startPattern: '^START', maxLines: 4, timeoutMs: 100 } });
  await h.waitForBodies(3);
  assert.deepEqual(
    h.received.map((r) => [r.body?.split('\n').length, r.attrs['log.truncated'], r.attrs['log.part']]),
    [
      [4, true, 0],
      [4, true, 1],
      [2, true, 2],
    ],
  );
  await h.close();
});

test('logfile: an over-long line is split at max_record_bytes into flagged parts, nothing dropped', async () => {
  const h = new Harness();
  const long = 'a'.repeat(2500);
  fs.writeFileSync(h.file('app.log'), `short\n${long}\nafter\n`);
  const input = h.input({ maxRecordBytes: 1024 });
  await h.waitForBodies(5);
  assert.deepEqual(
    h.received.map((r) => [r.body?.length, r.attrs['log.truncated'], r.attrs['log.part']]),
    [
      [5, undefined, undefined],
      [1024, true, 0],
      [1024, true, 1],
      [452, true, 2],
      [5, undefined, undefined],
    ],
  );
  assert.equal(
    h.received
      .slice(1, 4)
      .map((r) => r.body)
      .join(''),
    long,
  );
  assert.equal(input.stats().splits, 3);
  await h.close();
});

test('logfile: a line that never ends is emitted in parts as it grows, memory stays bounded', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, '');
  h.input({ maxRecordBytes: 1024, partialLineTimeoutMs: 60_000 });
  for (let i = 0; i < 10; i++) fs.appendFileSync(file, 'b'.repeat(500));
  fs.appendFileSync(file, '\n');
  await waitFor('the whole line', () => h.bodies().join('').length === 5000);
  assert.ok(h.received.every((r) => r.attrs['log.truncated'] === true));
  assert.deepEqual(
    h.received.map((r) => r.attrs['log.part']),
    h.received.map((_, i) => i),
  );
  await h.close();
});

test('logfile: invalid UTF-8 is kept readable with replacement characters and flagged', async () => {
  const h = new Harness();
  const bad = Buffer.concat([Buffer.from('bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' bytes\n')]);
  fs.writeFileSync(h.file('app.log'), Buffer.concat([Buffer.from('good é\n'), bad, Buffer.from('crlf\r\n')]));
  const input = h.input();
  await h.waitForBodies(3);
  assert.deepEqual(
    h.received.map((r) => [r.body, r.attrs['log.invalid_utf8']]),
    [
      ['good é', undefined],
      ['bad \ufffd\ufffd bytes', true],
      ['crlf', undefined],
    ],
  );
  assert.equal(input.stats().invalidUtf8, 1);
  await h.close();
});

test('logfile: a last line without newline is held, then emitted flagged after partial_line_timeout', async () => {
  const h = new Harness();
  const file = h.file('app.log');
  fs.writeFileSync(file, 'complete\nhalf');
  const input = h.input({ partialLineTimeoutMs: 60_000 });
  await h.waitForBodies(1);
  fs.appendFileSync(file, ' and rest\n');
  await h.waitForBodies(2);
  assert.deepEqual(h.bodies(), ['complete', 'half and rest']);
  assert.equal(h.received[1]?.attrs['log.partial'], undefined);
  await input.close();

  h.input({ partialLineTimeoutMs: 200 });
  fs.appendFileSync(file, 'no newline');
  await h.waitForBodies(3);
  assert.equal(h.received[2]?.body, 'no newline');
  assert.equal(h.received[2]?.attrs['log.partial'], true);
  await h.close();
});

test('logfile: a full block-policy queue pauses reading, which resumes when batches are acked', async () => {
  // Room for about 300 records of this size.
  const h = new Harness({ policy: 'block', maxBytes: 1024 * 1024 });
  const file = h.file('app.log');
  const pad = 'p'.repeat(3000);
  const count = 2000;
  let text = '';
  for (let i = 0; i < count; i++) text += `${numbered(i)} ${pad}\n`;
  fs.writeFileSync(file, text);
  const input = h.input({ batchMaxRecords: 50 });
  await waitFor('the queue to refuse a batch', () => input.stats().refused > 0);
  const stored = h.queue.stats().depth;
  assert.ok(stored < count, `reading paused with ${stored} of ${count} lines stored`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(h.queue.stats().depth, stored, 'nothing more was taken while the queue was full');
  assert.ok(input.stats().lines - stored <= 50 + 400, 'read ahead by at most one batch and one chunk');
  await waitFor('every line after acks', () => h.drain().length >= count, 20_000);
  const bodies = h.received.map((r) => (r.body ?? '').slice(0, 11));
  assertEachOnce(bodies, count);
  await h.close();
});

test('logfile: collectOnce previews lines without moving the position', async () => {
  const h = new Harness();
  fs.writeFileSync(h.file('app.log'), lines(0, 3));
  const input = new LogFileInput({
    name: 'preview',
    paths: [h.file('*.log')],
    startAt: 'beginning',
    emit: h.emit,
    readCursors: (prefix) => h.queue.cursors(prefix),
    logger: silent,
  });
  const preview = await input.collectOnce();
  assert.deepEqual(
    preview.map((r) => r.body),
    [numbered(0), numbered(1), numbered(2)],
  );
  assert.equal(h.queue.cursors('logfile:preview:').size, 0, 'nothing committed');
  await input.close();
});

test('logfile: close() is idempotent and the input refuses use after it', async () => {
  const h = new Harness();
  const input = h.input();
  const closing = input.close();
  assert.equal(input.close(), closing);
  await closing;
  assert.throws(
    () => input.start(),
    (err) => isOutpostError(err, 'E_INPUT_CLOSED'),
  );
  await assert.rejects(input.collectOnce(), (err) => isOutpostError(err, 'E_INPUT_CLOSED'));
  assert.throws(
    () =>
      new LogFileInput({
        name: 'bad:name',
        paths: ['/x/*.log'],
        emit: h.emit,
        readCursors: () => new Map(),
        logger: silent,
      }),
    (err) => isOutpostError(err, 'E_LOGFILE_OPTIONS'),
  );
  await h.close();
});
