import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCrashCycles } from './crash-harness.ts';
import { tempDir } from './harness.ts';

// The short version for every CI run; `pnpm bench` runs 1000 cycles of the same harness.
test('crash harness: kill -9 of agent and collector plus a flaky network lose and duplicate nothing', async () => {
  using dir = tempDir('crash');
  const report = await runCrashCycles({ dir: dir.path, cycles: 6 });
  const summary = JSON.stringify(report);
  assert.ok(report.accepted > 0, `the producer got records accepted: ${summary}`);
  assert.equal(report.lost, 0, `records lost: ${summary}`);
  assert.equal(report.duplicated, 0, `records stored twice: ${summary}`);
  assert.equal(report.unknown, 0, `records nobody sent: ${summary}`);
  assert.equal(report.dropped, 0, `records dropped by policy: ${summary}`);
  assert.equal(report.stored, report.accepted + report.uncertainStored, summary);
});
