import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CrashLedger } from './crash-ledger.ts';

test('crash ledger: counts lost, duplicated, unknown and uncertain-stored numbers past 2^24', () => {
  const ledger = new CrashLedger();
  const last = 2 ** 24 + 100;
  const push: number[] = [];
  for (let n = 1; n <= last; n++) {
    push.push(n);
    if (push.length === 25 || n === last) {
      // Every 40th push is cut off midway: its records may or may not be stored.
      if ((n - 1) % 1000 < 25) ledger.markUncertain(push);
      else ledger.markAccepted(push);
      push.length = 0;
    }
  }
  const lost = 2 ** 24 + 50;
  const uncertainNotStored = 10;
  for (let n = 1; n <= last; n++) if (n !== lost && n !== uncertainNotStored) ledger.markStored(n);
  ledger.markStored(7); // stored twice
  ledger.markStored(String(last + 5)); // never pushed
  ledger.markStored('not a number');

  const tally = ledger.tally();
  assert.equal(tally.accepted + tally.uncertain, last);
  assert.equal(tally.uncertain, 25 * Math.ceil(last / 1000));
  assert.equal(tally.stored, last - 2 + 3);
  assert.equal(tally.lost, 1);
  assert.deepEqual(tally.lostExamples, [lost]);
  assert.equal(tally.duplicated, 1);
  assert.deepEqual(tally.duplicatedExamples, [7]);
  assert.equal(tally.unknown, 2);
  // 7 and 10 were in the first push, cut off: 10 was never stored, 7 (stored twice) counts once.
  assert.equal(tally.uncertainStored, tally.uncertain - 1);
});
