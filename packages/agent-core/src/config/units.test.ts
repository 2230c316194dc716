import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseSize } from './units.ts';

test('units: durations to milliseconds', () => {
  const table: Array<[string | number, number | undefined]> = [
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    [' 2s ', 2000],
    ['0', 0],
    [0, 0],
    ['0s', 0],
    [10, undefined],
    ['10', undefined],
    ['', undefined],
    ['s', undefined],
    ['10 s', undefined],
    ['10sec', undefined],
    ['-1s', undefined],
    ['1w', undefined],
    ['ms', undefined],
  ];
  for (const [input, expected] of table) {
    assert.equal(parseDuration(input), expected, `parseDuration(${JSON.stringify(input)})`);
  }
});

test('units: sizes to bytes', () => {
  const table: Array<[string | number, number | undefined]> = [
    ['512KiB', 512 * 1024],
    ['1MiB', 1024 ** 2],
    ['256MiB', 256 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['1TiB', 1024 ** 4],
    ['1MB', 1_000_000],
    ['1GB', 1_000_000_000],
    ['1KB', 1000],
    ['1kb', 1000],
    ['64mib', 64 * 1024 ** 2],
    ['1Mi', 1024 ** 2],
    ['1.5KiB', 1536],
    ['100B', 100],
    ['4096', 4096],
    [4096, 4096],
    [0, 0],
    [1.5, undefined],
    [-1, undefined],
    ['1.5', undefined],
    ['1M', undefined],
    ['lots', undefined],
    ['', undefined],
    ['MiB', undefined],
    ['1 PiB', undefined],
  ];
  for (const [input, expected] of table) {
    assert.equal(parseSize(input), expected, `parseSize(${JSON.stringify(input)})`);
  }
});
