import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { COLLECTOR_NODE_FLAGS, servesCollector } from './daemon-flags.ts';

test('collector flags: only serving the collector re-executes, not its client commands', () => {
  assert.equal(servesCollector([]), true);
  assert.equal(servesCollector(['serve', '--config', 'c.yaml']), true);
  assert.equal(servesCollector(['--config', 'c.yaml']), true, 'serve is the default command');
  assert.equal(servesCollector(['--version']), false);
  assert.equal(servesCollector(['-h']), false);
  assert.equal(servesCollector(['alert', 'list']), false);
  assert.equal(servesCollector(['service', 'install']), false);
});

test('collector flags: outpost-collector serve runs with its V8 flags under the same pid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'collector-flags-'));
  const bin = join(import.meta.dirname, 'outpost-collector.ts');
  const child = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line.includes('collector listening')) break;
    }
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    for (const flag of COLLECTOR_NODE_FLAGS) assert.ok(cmdline.includes(flag), cmdline.join(' '));
    assert.deepEqual(cmdline.slice(-6), [bin, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dir]);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});
