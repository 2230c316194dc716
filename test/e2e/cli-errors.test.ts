import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, Proc, repoRoot, tempDir } from './harness.ts';

const BAD_CONFIG = `collector:
  url: http://127.0.0.1:7410
queue:
  max_bytes: lots
inputs:
  system:
    intervall: 10s
`;

test('outpost-agent refuses an invalid config with file, line, column and key, and exit code 2', async () => {
  using dir = tempDir('badconf');
  const file = join(dir.path, 'agent.yaml');
  writeFileSync(file, BAD_CONFIG);
  const agent = new Proc('agent', [
    join(repoRoot, 'packages/agent-core/src/cli/outpost-agent.ts'),
    '--config',
    file,
  ]);
  const exit = await agent.exited;
  assert.equal(exit.code, 2, agent.tail());
  const out = agent.tail();
  assert.match(out, new RegExp(`${file}:4:\\d+: queue\\.max_bytes`));
  assert.match(out, new RegExp(`${file}:7:\\d+: inputs\\.system\\.intervall`));
});

test('agentctl config validate: exit 0 for a valid file, 1 with positions for an invalid one', async () => {
  using dir = tempDir('validate');
  const good = join(dir.path, 'good.yaml');
  writeFileSync(good, 'collector:\n  url: http://127.0.0.1:7410\nagent:\n  state_dir: ./state\n');
  const ok = await agentctl(['config', 'validate', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid \(sha256:[0-9a-f]+\)/);

  const bad = join(dir.path, 'bad.yaml');
  writeFileSync(bad, BAD_CONFIG);
  const refused = await agentctl(['config', 'validate', bad]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /bad\.yaml:4:\d+: queue\.max_bytes/);

  const missing = await agentctl(['config', 'validate', join(dir.path, 'nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.yaml/);
});

test('agentctl status says clearly when no agent is running', async () => {
  using dir = tempDir('nosock');
  const out = await agentctl(['status', '--socket', join(dir.path, 'agent.sock')]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /no outpost-agent is listening on .*agent\.sock.*is it running/);
});

test("commander's own parse errors exit 2, like our usage errors; --help and --version exit 0", async () => {
  const run = async (bin: string, args: string[]) => {
    const proc = new Proc(bin, [join(repoRoot, bin), ...args]);
    const exit = await proc.exited;
    return { code: exit.code, out: proc.tail() };
  };
  const AGENT = 'packages/agent-core/src/cli/outpost-agent.ts';
  const COLLECTOR = 'packages/collector/src/cli/outpost-collector.ts';

  for (const args of [['--bogus'], ['frobnicate'], ['status', '--nope'], ['top', '-n', 'x'], ['config']]) {
    const out = await agentctl(args);
    assert.equal(out.code, 2, `agentctl ${args.join(' ')}: ${out.stderr}`);
    assert.notEqual(out.stderr, '', `agentctl ${args.join(' ')} says why`);
  }
  const badChoice = await agentctl(['top', '--interval', '0']);
  assert.equal(badChoice.code, 2);
  assert.match(badChoice.stderr, /--interval .*expected seconds between 0\.2 and 3600, got "0"/);
  for (const args of [['--help'], ['--version'], ['top', '--help']]) {
    assert.equal((await agentctl(args)).code, 0, `agentctl ${args.join(' ')}`);
  }

  const agentFlag = await run(AGENT, ['--log-level', 'loud']);
  assert.equal(agentFlag.code, 2, agentFlag.out);
  assert.match(agentFlag.out, /--log-level .*Allowed choices are trace/);
  assert.equal((await run(AGENT, ['--bogus'])).code, 2);
  assert.equal((await run(AGENT, ['--version'])).code, 0);

  const collectorFlag = await run(COLLECTOR, ['--log-format', 'fancy']);
  assert.equal(collectorFlag.code, 2, collectorFlag.out);
  assert.match(collectorFlag.out, /--log-format .*Allowed choices are auto, json, pretty/);
});
