/**
 * A plugin author's session and an operator's: scaffold a plugin with agentctl, pack it, install
 * it on a running agent and see its records at the collector; then hostile plugins next to a good
 * one, on the same agent, with the queue still shipping.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ControlClient } from '../../packages/agent-core/src/index.ts';
import {
  agentctl,
  agentYaml,
  allRecords,
  type RunningCollector,
  startAgent,
  startCollector,
  startEnrolledAgent,
  tempDir,
  waitFor,
} from './harness.ts';

interface ListedPlugin {
  name: string;
  state: string;
  enabled: boolean;
  restarts: number;
  reason: string | null;
}

async function agentIdOf(socket: string): Promise<string> {
  return waitFor('the agent to be registered', async () => {
    const out = await agentctl(['status', '--json', '--socket', socket]);
    return (
      (JSON.parse(out.stdout) as { collector: { agentId: string | null } }).collector.agentId ?? undefined
    );
  });
}

async function listed(socket: string): Promise<ListedPlugin[]> {
  const out = await agentctl(['plugin', 'list', '--json', '--socket', socket]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as ListedPlugin[];
}

const bodyOf = (record: object) => String((record as { body?: unknown }).body);

const pluginRecords = async (collector: RunningCollector, agentId: string, source: string) =>
  (await allRecords(collector, agentId)).filter((r) => r.source === source);

test('plugins: agentctl plugin new -> pack -> install on a running agent; its records reach the collector; config, disable, enable, remove', async (t) => {
  using dir = tempDir('plugins');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));
  const project = join(dir.path, 'hello-edge');

  const created = await agentctl(['plugin', 'new', project]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /created collect plugin "hello-edge"/);
  const packed = await agentctl(['plugin', 'pack', project, '--json']);
  assert.equal(packed.code, 0, packed.stderr);
  const { file, sha256 } = JSON.parse(packed.stdout) as { file: string; sha256: string };

  const tried = await agentctl([
    'plugin',
    'test',
    project,
    '--no-build',
    '--plugin-config',
    '{"greeting":"yo"}',
  ]);
  assert.equal(tried.code, 0, tried.stderr);
  assert.match(tried.stdout, /^log +hello_edge\.greeting yo #1$/m);

  const agent = await startEnrolledAgent(t, dir.path, collector, {
    inputs: false,
    // The scaffold collects every 10 s; the override makes it 1 s here.
    extra: 'plugins:\n  overrides:\n    hello-edge:\n      interval: 1s\n',
  });
  const socket = ['--socket', agent.socket];
  const agentId = await agentIdOf(agent.socket);

  const badSum = await agentctl(['plugin', 'install', file, '--sha256', 'f'.repeat(64), ...socket]);
  assert.equal(badSum.code, 1);
  assert.match(badSum.stderr, /E_PLUGIN_SHA256|sha256 is [0-9a-f]{64}, expected f{64}/);
  const usage = await agentctl(['plugin', 'install', file, '--sha256', 'nope', ...socket]);
  assert.equal(usage.code, 2, usage.stderr);

  const installed = await agentctl(['plugin', 'install', file, '--sha256', sha256, ...socket]);
  assert.equal(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, /^ {2}extracting .*\n {2}reading .*\n {2}verifying [0-9a-f]{64}\n/);
  assert.match(installed.stdout, /^installed hello-edge@0\.1\.0: running$/m);

  const greetings = await waitFor(`hello-edge records at the collector\n${agent.proc.tail()}`, async () => {
    const records = await pluginRecords(collector, agentId, 'plugin:hello-edge');
    return records.filter((r) => r.name === 'hello_edge.greeting').length >= 2 ? records : undefined;
  });
  const runs = greetings.filter((r) => r.name === 'hello_edge.runs').map((r) => r.value);
  assert.deepEqual(runs.slice(0, 2), [1, 2]);

  const table = await agentctl(['plugin', 'list', ...socket]);
  assert.match(table.stdout, /^NAME +VERSION +STATE +CAPABILITIES/m);
  assert.match(table.stdout, /^hello-edge +0\.1\.0 +running +collect /m);

  const badConfig = await agentctl([
    'plugin',
    'config',
    'set',
    'hello-edge',
    'greeting=42',
    'extra=1',
    ...socket,
  ]);
  assert.equal(badConfig.code, 1);
  assert.match(badConfig.stderr, /config\.extra: unknown field; config\.greeting: must be string/);
  const setConfig = await agentctl(['plugin', 'config', 'set', 'hello-edge', 'greeting=hey', ...socket]);
  assert.equal(setConfig.code, 0, setConfig.stderr);
  const shown = await agentctl(['plugin', 'config', 'show', 'hello-edge', ...socket]);
  assert.match(shown.stdout, /"greeting": "hey"/);
  assert.match(shown.stdout, /^ {2}greeting +string +"hello" +What to say on each run\.$/m);
  const hey = await waitFor('a greeting with the new config', async () =>
    (await pluginRecords(collector, agentId, 'plugin:hello-edge'))
      .map(bodyOf)
      .find((body) => /^hey #/.test(body)),
  );
  const heyRun = Number(/#(\d+)/.exec(hey)?.[1]);
  assert.ok(heyRun > 2, `state kept across the reconfigure (run ${heyRun})`);

  assert.equal((await agentctl(['plugin', 'disable', 'hello-edge', ...socket])).code, 0);
  assert.deepEqual(
    (await listed(agent.socket)).map((p) => [p.name, p.state, p.enabled]),
    [['hello-edge', 'disabled', false]],
  );
  const enabled = await agentctl(['plugin', 'enable', 'hello-edge', ...socket]);
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.match(enabled.stdout, /^hello-edge@0\.1\.0: running$/m);

  const logs = await agentctl(['plugin', 'logs', 'hello-edge', '-n', '5', '--json', ...socket]);
  const lines = JSON.parse(logs.stdout) as Array<{ level: string; message: string }>;
  assert.ok(lines.length > 0 && lines.every((l) => l.message === 'collecting'), logs.stdout);

  const removed = await agentctl(['plugin', 'remove', 'hello-edge', ...socket]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(await listed(agent.socket), []);
  const gone = await agentctl(['plugin', 'logs', 'hello-edge', ...socket]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /plugin "hello-edge" is not installed/);

  assert.deepEqual(await agent.proc.stop('SIGTERM'), { code: 0, signal: null });
  const down = await agentctl(['plugin', 'list', ...socket]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /no outpost-agent is listening on/);
});

// Counts its runs in state; a plugin stage tags what passes; two plugins that must not hurt anyone.
const PLUGINS: Record<string, { manifest: object; code: string }> = {
  ticker: {
    manifest: { capabilities: ['collect'], collectIntervalMs: 1000 },
    code: `export default { async collect(ctx) {
      const n = ((await ctx.state.get('n')) ?? 0) + 1;
      await ctx.state.set('n', n);
      return [{ kind: 'metric', name: 'ticker.n', value: n }];
    } };`,
  },
  tagger: {
    manifest: { capabilities: ['process'] },
    code: `export default { process(records) {
      return records.map((r) => ({ ...r, attrs: { ...r.attrs, tagged: true } }));
    } };`,
  },
  spin: {
    manifest: { capabilities: ['collect'], collectIntervalMs: 1000 },
    code: 'export default { collect() { for (;;) {} } };',
  },
  bomb: {
    manifest: { capabilities: ['collect'], collectIntervalMs: 1000 },
    code: `export default { collect() { const keep = []; for (;;) keep.push(new Array(1e5).fill({ x: 1 })); } };`,
  },
};

test('plugins: an infinite loop and a heap bomb are quarantined; the agent keeps shipping, a process stage applies on reload, the ticker keeps its schedule', async (t) => {
  using dir = tempDir('plugins-hostile');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));
  for (const [name, { manifest, code }] of Object.entries(PLUGINS)) {
    const pluginDir = join(dir.path, 'src', name);
    mkdirSync(pluginDir, { recursive: true });
    writeFileSync(
      join(pluginDir, 'outpost-plugin.json'),
      JSON.stringify({ name, version: '1.0.0', apiVersion: 1, entry: 'index.js', ...manifest }),
    );
    writeFileSync(join(pluginDir, 'index.js'), code);
  }
  const base = agentYaml({ url: collector.url, stateDir: join(dir.path, 'agent'), inputs: false });
  const plugins = `plugins:
  limits:
    memory: 16MiB
    timeout: 300ms
  restart:
    initial_backoff: 100ms
    max_backoff: 200ms
    quarantine_after: 2
  overrides:
    bomb:
      limits:
        timeout: 20s
`;
  const agent = await startAgent(dir.path, `${base}${plugins}`, {
    OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
  });
  t.after(() => agent.proc.stop('SIGKILL'));
  const socket = ['--socket', agent.socket];
  const agentId = await agentIdOf(agent.socket);
  for (const name of Object.keys(PLUGINS)) {
    const out = await agentctl(['plugin', 'install', join(dir.path, 'src', name), ...socket]);
    assert.equal(out.code, 0, `${name}: ${out.stderr}`);
  }

  const hostile = await waitFor(
    `spin and bomb quarantined\n${agent.proc.tail()}`,
    async () => {
      const list = await listed(agent.socket);
      const bad = list.filter((p) => p.state === 'quarantined');
      return bad.length === 2 ? list : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const reasons = Object.fromEntries(hostile.map((p) => [p.name, p.reason]));
  assert.match(String(reasons.spin), /plugin "spin".*(timed out|300 ms)/);
  assert.match(String(reasons.bomb), /memory/i);
  assert.equal(hostile.find((p) => p.name === 'ticker')?.state, 'running');

  // The agent ships on: ticker records keep arriving, one a second, their count never going back.
  const shipped = (await pluginRecords(collector, agentId, 'plugin:ticker')).length;
  const later = await waitFor('more ticker records at the collector', async () => {
    const records = await pluginRecords(collector, agentId, 'plugin:ticker');
    return records.length >= shipped + 3 ? records : undefined;
  });
  const values = later.map((r) => r.value);
  const times = later.map((r) => r.ts).sort((a, b) => a - b);
  const gaps = times.slice(1).map((ts, i) => ts - (times[i] as number));
  // Every second, give or take the host restarts the heap bomb caused (each reloads the ticker).
  assert.ok(Math.max(...gaps) < 5_000, `ticker gaps (ms): ${gaps.join(', ')}`);
  assert.deepEqual(
    values,
    [...values].sort((a, b) => a - b),
    'state survived the host restarts the bomb caused',
  );
  const emitted = await agentctl(['emit', '--kind', 'log', '--name', 'app.alive', '--body', 'ok', ...socket]);
  assert.equal(emitted.code, 0, emitted.stderr);
  await waitFor('an emitted record at the collector', async () =>
    (await allRecords(collector, agentId)).find((r) => r.name === 'app.alive'),
  );

  // A process plugin becomes a stage of the chain on reload; a stage naming no installed one is refused.
  const config = readFileSync(agent.configPath, 'utf8');
  const stage = (plugin: string) =>
    `${config}processors:\n  - type: plugin\n    name: tag\n    plugin: ${plugin}\n`;
  writeFileSync(agent.configPath, stage('tagger-typo'));
  const refused = await agentctl(['reload', ...socket]);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(
    refused.stdout + refused.stderr,
    /processors\[0\]\.plugin: no installed process plugin named "tagger-typo"/,
  );
  writeFileSync(agent.configPath, stage('tagger'));
  agent.proc.child.kill('SIGHUP');
  await agent.proc.logLine('config reloaded');
  await waitFor('tagged ticker records', async () =>
    (await pluginRecords(collector, agentId, 'plugin:ticker')).find((r) => r.attrs.tagged === true),
  );

  const client = new ControlClient(agent.socket);
  t.after(() => client.close());
  const metrics = await client.text('/metrics');
  assert.match(
    metrics,
    /^outpost_agent_plugin_info\{plugin="spin",version="1\.0\.0",state="quarantined"\} 1$/m,
  );
  assert.match(metrics, /^outpost_agent_plugin_errors_total\{plugin="bomb"\} [1-9]/m);
  assert.match(metrics, /^outpost_agent_plugin_records_in_total\{plugin="tagger"\} [1-9]/m);
  assert.match(metrics, /^outpost_agent_plugin_calls_total\{plugin="ticker"\} [1-9]/m);

  assert.deepEqual(await agent.proc.stop('SIGTERM'), { code: 0, signal: null });
});
