import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, repoRoot, startCollector, startEnrolledAgent, tempDir, waitFor } from './harness.ts';

/** Runs `agentctl tap ...` in the background and collects its output until it exits. */
function tap(args: string[]): { output: () => string; exited: Promise<number | null> } {
  let out = '';
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'packages/agent-core/src/cli/agentctl.ts'), 'tap', ...args],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return { output: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

test('agentctl tap shows records before and after a redacting processor', async (t) => {
  using dir = tempDir('tap');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));
  const agent = await startEnrolledAgent(t, dir.path, collector, {
    inputs: false,
    extra: `processors:
  - type: transform
    name: redact-tokens
    redact:
      - pattern: 'token=\\w+'
        replacement: token=[REDACTED]
`,
  });
  const socket = ['--socket', agent.socket];

  const before = tap(['--stage', 'input', '--kind', 'log', '--count', '1', '--json', ...socket]);
  const after = tap(['--stage', 'output', '--name', 'app.*', '--count', '1', ...socket]);
  // The taps are live once the agent has them; emit until both have seen a record.
  await waitFor('both taps to print a record', async () => {
    const out = await agentctl([
      'emit',
      '--kind',
      'log',
      '--name',
      'app.web',
      '--body',
      'login ok token=abc123',
      ...socket,
    ]);
    assert.equal(out.code, 0, out.stderr);
    return before.output().includes('\n') && after.output().includes('\n') ? true : undefined;
  });
  assert.equal(await before.exited, 0, before.output());
  assert.equal(await after.exited, 0, after.output());
  const raw = JSON.parse(before.output().split('\n')[0] ?? '');
  assert.equal(raw.body, 'login ok token=abc123', 'the input stage sees the record as emitted');
  assert.match(after.output(), /log +agentctl app\.web login ok token=\[REDACTED\]/);
  assert.doesNotMatch(after.output(), /abc123/);

  const bad = await agentctl(['tap', '--stage', 'nope', ...socket]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no pipeline stage "nope"; taps can follow: input, redact-tokens, output/);
});
