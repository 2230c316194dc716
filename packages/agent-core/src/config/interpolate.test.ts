// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${VAR}" is the config interpolation syntax, not a mistaken template literal
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpolate } from './interpolate.ts';

test('interpolate: variables, defaults, escapes; comments left alone', () => {
  const source = [
    'a: ${A} # ${IN_COMMENT}',
    '# whole-line ${ALSO_IN_COMMENT}',
    'b: "${B:-x y}" c: $${LITERAL} d: $PLAIN e: $$',
    'f: |',
    '  # a block scalar line, not a comment: ${A}',
    '',
  ].join('\n');
  const out = interpolate(source, { A: 'alpha', B: '' });
  assert.deepEqual(out.issues, []);
  assert.equal(
    out.text,
    [
      'a: alpha # ${IN_COMMENT}',
      '# whole-line ${ALSO_IN_COMMENT}',
      'b: "x y" c: ${LITERAL} d: $PLAIN e: $$',
      'f: |',
      '  # a block scalar line, not a comment: alpha',
      '',
    ].join('\n'),
  );
});

test('interpolate: offsets in the result map back to the source', () => {
  const source = 'k: ${LONG}, z: 1\n';
  const out = interpolate(source, { LONG: '0123456789' });
  const zOut = out.text.indexOf('z');
  assert.equal(out.sourceOffset(zOut), source.indexOf('z'));
  assert.equal(
    out.sourceOffset(out.text.indexOf('5')),
    source.indexOf('${'),
    'inside a value: its reference',
  );
  assert.equal(out.sourceOffset(0), 0);
});

test('interpolate: unset, malformed and unterminated references are issues at their offset', () => {
  const source = 'a: ${MISSING}\nb: ${not valid}\nc: ${OPEN\n';
  const out = interpolate(source, {});
  assert.deepEqual(
    out.issues.map((i) => [i.sourceOffset, /not set|not a variable|unterminated/.exec(i.message)?.[0]]),
    [
      [source.indexOf('${MISSING'), 'not set'],
      [source.indexOf('${not'), 'not a variable'],
      [source.indexOf('${OPEN'), 'unterminated'],
    ],
  );
});
