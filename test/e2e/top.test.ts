import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentctl, agentYaml, startAgent, tempDir, waitFor } from './harness.ts';

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
`,
    }),
    { OUTPOST_ENROLLMENT_TOKEN: 'tok-secret-123' },
  );
  t.after(() => agent.proc.stop('SIGKILL'));
  const socket = ['--socket', agent.socket];

  const json = await waitFor('top --json to show system records flowing', async () => {
    const out = await agentctl(['top', '--json', '--interval', '0.6', ...socket]);
    assert.equal(out.code, 0, out.stderr);
    const view = JSON.parse(out.stdout);
    return view.inputs.find((i: { name: string; records: number }) => i.name === 'system' && i.records > 0)
      ? view
      : undefined;
  });
  assert.ok(json.cpuPercent >= 0 && json.cpuPercent < 400, `cpu ${json.cpuPercent}`);
  assert.ok(json.rssBytes > 10 * 2 ** 20 && json.rssBytes < 2 ** 31, `rss ${json.rssBytes}`);
  assert.deepEqual(
    json.stages.map((s: { stage: string; type: string }) => [s.stage, s.type]),
    [['no-uptime', 'filter']],
  );
  assert.equal(json.guard.level, 0);
  assert.ok(json.queue.depth >= 0);

  const plain = await agentctl(['top', '-n', '2', '-i', '0.3', ...socket]);
  assert.equal(plain.code, 0, plain.stderr);
  // Not a terminal: two plain frames, no escape sequences.
  assert.equal(plain.stdout.match(/^outpost-agent pid \d+ /gm)?.length, 2, plain.stdout);
  assert.ok(!plain.stdout.includes('\u001b['), 'no escape sequences');
  assert.match(plain.stdout, /^INPUT\s+REC\/S\s+RECORDS\s+ERRORS/m);
  assert.match(plain.stdout, /^system\s+[\d.]+\s+\d+\s+0 /m);
  assert.match(plain.stdout, /^no-uptime\s+filter\s/m);

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

test('agentctl top says clearly when no agent is running', async () => {
  using dir = tempDir('top-nosock');
  const out = await agentctl(['top', '-n', '1', '--socket', join(dir.path, 'agent.sock')]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /no outpost-agent is listening on .*agent\.sock.*is it running/);
});
