import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TopView } from '../../packages/agent-core/src/cli/top-screen.ts';
import { agentctl, agentYaml, repoRoot, startAgent, tempDir, waitFor } from './harness.ts';

function scrape(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('agentctl top, config show and per-stage self-metrics against a running agent', async (t) => {
  using dir = tempDir('top');
  // No collector: top and metrics must not depend on one.
  const agent = await startAgent(
    dir.path,
    agentYaml({
      url: 'http://127.0.0.1:9',
      stateDir: join(dir.path, 'agent'),
      extra: `processors:
  - type: filter
    name: no-uptime
    drop:
      name: system.uptime
limits:
  cpu_percent: 90
  memory: 1GiB
  interval: 200ms
plugins:
  overrides:
    hello-collector:
      interval: 1s
`,
    }),
    { OUTPOST_ENROLLMENT_TOKEN: 'tok-secret-123' },
  );
  t.after(() => agent.proc.stop('SIGKILL'));
  const socket = ['--socket', agent.socket];
  const plugin = join(repoRoot, 'examples/plugins/hello-collector');
  const installed = await agentctl(['plugin', 'install', plugin, ...socket]);
  assert.equal(installed.code, 0, `${installed.stdout}${installed.stderr}`);

  const json = await waitFor('top --json to show system records and plugin calls', async () => {
    const out = await agentctl(['top', '--json', '--interval', '1.2', ...socket]);
    assert.equal(out.code, 0, out.stderr);
    const view = JSON.parse(out.stdout) as TopView;
    const system = view.inputs.find((i) => i.name === 'system' && i.records > 0);
    const hello = view.plugins?.find((p) => p.name === 'hello-collector' && p.callsPerSec > 0);
    return system && hello ? view : undefined;
  });
  const hello = json.plugins?.find((p) => p.name === 'hello-collector');
  assert.equal(hello?.state, 'running');
  assert.ok((hello?.heapUsedBytes ?? 0) > 0, 'the sandbox heap is reported');
  assert.ok(json.cpuPercent >= 0 && json.cpuPercent < 400, `cpu ${json.cpuPercent}`);
  assert.ok(json.rssBytes > 10 * 2 ** 20 && json.rssBytes < 2 ** 31, `rss ${json.rssBytes}`);
  assert.deepEqual(
    json.stages.map((s: { stage: string; type: string }) => [s.stage, s.type]),
    [['no-uptime', 'filter']],
  );
  assert.equal(json.guard?.level, 0);
  assert.ok(json.queue.depth >= 0);

  const plain = await agentctl(['top', '-n', '2', '-i', '0.3', ...socket]);
  assert.equal(plain.code, 0, plain.stderr);
  // Not a terminal: two plain frames, no escape sequences.
  assert.equal(plain.stdout.match(/^outpost-agent pid \d+ /gm)?.length, 2, plain.stdout);
  assert.ok(!plain.stdout.includes('\u001b['), 'no escape sequences');
  assert.match(plain.stdout, /^INPUT\s+REC\/S\s+RECORDS\s+ERRORS/m);
  assert.match(plain.stdout, /^system\s+[\d.]+\s+\d+\s+0 /m);
  assert.match(plain.stdout, /^no-uptime\s+filter\s/m);
  assert.match(plain.stdout, /^PLUGIN\s+STATE\s+CPU%\s+HEAP\s+CALLS\/S\s+ERRORS$/m);
  assert.match(plain.stdout, /^hello-collector\s+running\s+[\d.]+\s+[\d.]+ [KM]iB\s/m);

  const metrics = await waitFor('the filter stage to drop system.uptime', async () => {
    const text = await scrape(agent.socket);
    return /outpost_agent_stage_records_dropped_total\{stage="no-uptime",type="filter"\} [1-9]/.test(text)
      ? text
      : undefined;
  });
  assert.match(metrics, /outpost_agent_stage_records_in_total\{stage="no-uptime",type="filter"\} [1-9]/);
  assert.match(metrics, /outpost_agent_stage_records_out_total\{stage="no-uptime",type="filter"\} [1-9]/);
  assert.match(metrics, /outpost_agent_input_records_total\{input="system"\} [1-9]/);
  assert.match(metrics, /outpost_agent_guard_level 0/);
  assert.match(metrics, /outpost_agent_guard_limit_memory_bytes 1073741824/);

  const status = await agentctl(['status', ...socket]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^limits\s+cpu 90%\s+rss 1\.0 GiB\s+guard ok$/m);

  const shown = await agentctl(['config', 'show', '--config', agent.configPath], {
    OUTPOST_ENROLLMENT_TOKEN: 'tok-secret-123',
  });
  assert.equal(shown.code, 0, shown.stderr);
  assert.doesNotMatch(shown.stdout, /tok-secret-123/);
  assert.match(shown.stdout, /enrollment_token: <redacted>/);
  // Defaults filled in: nothing in the file sets these.
  assert.match(shown.stdout, /max_bytes: 268435456/);
  assert.match(shown.stdout, /cpu_percent: 90/);
  const asJson = await agentctl(['config', 'show', '--json', '-c', agent.configPath], {
    OUTPOST_ENROLLMENT_TOKEN: 'tok-secret-123',
  });
  assert.equal(asJson.code, 0, asJson.stderr);
  const parsed = JSON.parse(asJson.stdout);
  assert.equal(parsed.config.collector.enrollment_token, '<redacted>');
  assert.equal(parsed.config.send.compression, 'zstd');
  assert.equal(parsed.path, agent.configPath);
});

test('an agent over its memory limit slows its inputs, then pauses its plugin; each step logged and counted', async (t) => {
  using dir = tempDir('guard');
  // Any Node process is far over 16MiB of RSS: the guard must act at once.
  const agent = await startAgent(
    dir.path,
    agentYaml({
      url: 'http://127.0.0.1:9',
      stateDir: join(dir.path, 'agent'),
      extra: `limits:
  cpu_percent: none
  memory: 16MiB
  interval: 100ms
`,
    }),
    { OUTPOST_ENROLLMENT_TOKEN: 'tok' },
  );
  t.after(() => agent.proc.stop('SIGKILL'));
  const socket = ['--socket', agent.socket];
  await agent.proc.logLine('resource guard: over the limits, inputs now collect 4x less often');
  const status = await agentctl(['status', ...socket]);
  assert.match(
    status.stdout,
    /^limits\s+cpu none\s+rss 16\.0 MiB\s+guard level 2: inputs x4$/m,
    status.stdout,
  );
  const metrics = await scrape(agent.socket);
  assert.match(metrics, /^outpost_agent_guard_level 2$/m);
  assert.match(metrics, /^outpost_agent_guard_actions_total\{action="slow_inputs"\} 2$/m);
  // No plugin to pause yet: it stays at level 2.
  const top = JSON.parse((await agentctl(['top', '--json', '-i', '0.3', ...socket])).stdout) as TopView;
  assert.deepEqual(top.guard, { level: 2, inputSlowdown: 4, pausedPlugins: [] });

  // A plugin that starts running is the heaviest one: the last step pauses it.
  const plugin = join(repoRoot, 'examples/plugins/hello-collector');
  const installed = await agentctl(['plugin', 'install', plugin, ...socket]);
  assert.equal(installed.code, 0, `${installed.stdout}${installed.stderr}`);
  await agent.proc.logLine('resource guard: over the limits, paused plugin hello-collector');
  const paused = await waitFor('top to show the plugin paused', async () => {
    const view = JSON.parse((await agentctl(['top', '--json', '-i', '0.3', ...socket])).stdout) as TopView;
    return view.plugins?.find((p) => p.name === 'hello-collector' && p.state !== 'running')
      ? view
      : undefined;
  });
  assert.deepEqual(paused.guard, { level: 3, inputSlowdown: 4, pausedPlugins: ['hello-collector'] });
  assert.match(await scrape(agent.socket), /^outpost_agent_guard_actions_total\{action="pause_plugin"\} 1$/m);
});

test('agentctl top says clearly when no agent is running', async () => {
  using dir = tempDir('top-nosock');
  const out = await agentctl(['top', '-n', '1', '--socket', join(dir.path, 'agent.sock')]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /no outpost-agent is listening on .*agent\.sock.*is it running/);
});
