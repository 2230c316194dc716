import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { INVALID_UTF8, LineAssembler, type LineAssemblerOptions, PARTIAL } from './lines.ts';

type Out = [body: string, flags: number, part: number];

const counters = () => ({ lines: 0, splits: 0, invalidUtf8: 0, partialLines: 0 });

/** Feeds `content` cut at `cuts` as the input does: each read lands after the held unfinished line. */
function run(
  options: LineAssemblerOptions,
  content: Buffer,
  cuts: number[],
): { out: Out[]; marks: number[]; lines: LineAssembler } {
  const lines = new LineAssembler(options, counters(), 0);
  const out: Out[] = [];
  const marks: number[] = [];
  const buf = Buffer.alloc(content.length + options.maxRecordBytes);
  const sink = (body: string, flags: number, part: number) => out.push([body, flags, part]);
  let offset = 0;
  for (const end of [
    ...cuts.filter((c) => c > 0 && c < content.length).sort((a, b) => a - b),
    content.length,
  ]) {
    if (end <= offset) continue;
    const carry = lines.carryLength;
    content.copy(buf, carry, offset, end);
    lines.takeCarry(buf);
    const base = offset - carry;
    const size = carry + end - offset;
    offset = end;
    lines.feed(buf.subarray(0, size), 0, size, base, 0, sink, () => false);
    marks.push(lines.mark);
  }
  return { out, marks, lines };
}

const plain: LineAssemblerOptions = {
  maxRecordBytes: 16,
  encoding: 'utf8',
  multiline: null,
  partialLineTimeoutMs: 100,
};

test('lines: the records do not depend on where reads cut the bytes', () => {
  const line = fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', ' '), maxLength: 40 });
  fc.assert(
    fc.property(
      fc.array(line, { maxLength: 20 }),
      fc.array(fc.nat({ max: 2000 }), { maxLength: 12 }),
      (texts, cuts) => {
        const content = Buffer.from(texts.map((t) => `${t}\n`).join(''));
        const whole = run(plain, content, []);
        const cut = run(
          plain,
          content,
          cuts.map((c) => c % (content.length + 1)),
        );
        assert.deepEqual(cut.out, whole.out);
        assert.equal(cut.lines.mark, content.length, 'every byte of complete lines is handed out');
        // Split pieces joined back, lines joined by newlines: the original text, nothing lost.
        const joined: string[] = [];
        for (const [body, , part] of whole.out) {
          if (part > 0) joined[joined.length - 1] += body;
          else joined.push(body);
        }
        assert.deepEqual(joined, texts);
        for (const [body] of whole.out) assert.ok(Buffer.byteLength(body) <= plain.maxRecordBytes);
        for (let i = 1; i < cut.marks.length; i++)
          assert.ok((cut.marks[i] as number) >= (cut.marks[i - 1] as number));
      },
    ),
  );
});

test('lines: the mark stops before a held unfinished line and a held multiline event', () => {
  const ml: LineAssemblerOptions = {
    ...plain,
    maxRecordBytes: 1024,
    multiline: { startPattern: /^S/, maxLines: 10, timeoutMs: 50 },
  };
  const { out, lines } = run(ml, Buffer.from('S1\n c\nS2\n d\nhalf'), []);
  assert.deepEqual(out, [['S1\n c', 0, -1]]);
  assert.equal(lines.mark, 6, 'after " c\\n": S2 and its line are held');
  assert.equal(lines.carryLength, 4);
  assert.equal(lines.deadline(), 50);
  const late: Out[] = [];
  lines.expire(100, (body, flags, part) => late.push([body, flags, part]));
  // The partial line joins the held event; the event itself is due again a timeout later.
  assert.equal(late.length, 0);
  assert.notEqual(lines.deadline(), null, 'still held');
  lines.flushAll(200, (body, flags, part) => late.push([body, flags, part]));
  assert.deepEqual(late, [['S2\n d\nhalf', PARTIAL, -1]]);
  assert.equal(lines.mark, 16);
});

test('lines: invalid UTF-8 in one line flags that line only', () => {
  const content = Buffer.concat([
    Buffer.from('ok\n'),
    Buffer.from([0xc3, 0x28, 0x0a]),
    Buffer.from('fine\n'),
  ]);
  const { out } = run({ ...plain, maxRecordBytes: 64 }, content, []);
  assert.deepEqual(out, [
    ['ok', 0, -1],
    ['\ufffd(', INVALID_UTF8, -1],
    ['fine', 0, -1],
  ]);
  const latin1 = run({ ...plain, maxRecordBytes: 64, encoding: 'latin1' }, content, []);
  assert.deepEqual(latin1.out[1], ['\u00c3(', 0, -1]);
});
