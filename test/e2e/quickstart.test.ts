import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Proc, repoRoot, tempDir } from './harness.ts';

test("the README's quick start runs a collector and an agent and shows data arriving", async () => {
  using dir = tempDir('quickstart');
  const quickstart = new Proc('quickstart', [
    join(repoRoot, 'scripts/quickstart.ts'),
    '--dir',
    dir.path,
    '--listen',
    '127.0.0.1:0',
    '--until-data',
  ]);
  const exit = await quickstart.exited;
  const out = quickstart.lines.join('\n');
  assert.equal(exit.code, 0, out);
  assert.match(
    out,
    /Open the status page \(sign in with the admin token in .*admin-token\):\n {2}http:\/\/127\.0\.0\.1:\d+\/\n/,
  );
  assert.match(out, /Look at the incoming data:/);
  assert.match(
    out,
    /curl -s -H "Authorization: Bearer \$\(cat .*admin-token\)" 'http:\/\/127\.0\.0\.1:\d+\/api\/v1\/metrics/,
  );
  assert.match(out, /\d+ metric records stored, \d+ metric names {2}\[agt_\S+ online\]/);
});
