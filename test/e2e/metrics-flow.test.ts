import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  agentctl,
  agentYaml,
  allRecords,
  queueStatsOf,
  seqReport,
  startAgent,
  startCollector,
  tempDir,
  waitFor,
} from './harness.ts';

interface AgentView {
  id: string;
  hostname: string;
  state: string;
  labels: Record<string, string>;
  status: { configVersion?: string } | null;
}

test('an agent ships its system metrics to the collector; status, reload and SIGTERM behave', async (t) => {
  using dir = tempDir('flow');
  const collector = await startCollector(join(dir.path, 'collector'));
  t.after(() => collector.proc.stop('SIGKILL'));
  const stateDir = join(dir.path, 'agent');
  const agent = await startAgent(dir.path, agentYaml({ url: collector.url, stateDir }), {
    OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
  });
  t.after(() => agent.proc.stop('SIGKILL'));

  const registered = await waitFor('the agent to be listed online', async () => {
    const { agents } = await collector.api<{ agents: AgentView[] }>('/api/v1/agents');
    return agents.find((a) => a.state === 'online' && a.labels.test === 'e2e' && a.status);
  });

  const expected = [
    'system.cpu.utilization',
    'system.memory.usage',
    'system.cpu.load_average.1m',
    'system.filesystem.usage',
    'system.network.io',
    'system.uptime',
    'process.cpu.utilization',
    'process.memory.usage',
  ];
  const metrics = await waitFor('system and process metrics at the collector', async () => {
    const stored = await allRecords(collector, registered.id, 'metrics');
    const names = new Set(stored.map((m) => m.name));
    return expected.every((n) => names.has(n)) ? stored : undefined;
  });
  const cpu = metrics.filter((m) => m.name === 'system.cpu.utilization');
  assert.ok(cpu.every((m) => m.value >= 0 && m.value <= 1 && m.unit === '1' && m.source === 'system'));
  const filtered = await collector.api<{ metrics: Array<{ name: string }> }>(
    `/api/v1/metrics?agent=${registered.id}&name=system.uptime&from=0&to=${Date.now() + 60_000}`,
  );
  assert.ok(filtered.metrics.length > 0 && filtered.metrics.every((m) => m.name === 'system.uptime'));

  const json = await agentctl(['status', '--json', '--socket', agent.socket]);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout);
  assert.equal(status.collector.agentId, registered.id);
  assert.equal(status.agent.stateDir, stateDir);
  const human = await agentctl(['status', '--socket', agent.socket]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`agent\\s+${registered.id}`));
  assert.match(human.stdout, /reachable, last heartbeat/);

  // An invalid config on reload is refused and the running one stays.
  writeFileSync(
    agent.configPath,
    agentYaml({ url: collector.url, stateDir, extra: 'queue:\n  policy: sometimes\n' }),
  );
  const refused = await agentctl(['reload', '--socket', agent.socket]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /agent\.yaml:\d+:\d+: queue\.policy/);
  // A valid one applies without a restart, and the collector hears the new version.
  writeFileSync(
    agent.configPath,
    agentYaml({ url: collector.url, stateDir }).replace('test: e2e', 'test: e2e\n    role: reloaded'),
  );
  agent.proc.child.kill('SIGHUP');
  await agent.proc.logLine('config reloaded');
  const after = JSON.parse((await agentctl(['status', '--json', '--socket', agent.socket])).stdout);
  assert.notEqual(after.agent.configVersion, status.agent.configVersion);
  assert.equal(after.agent.labels.role, 'reloaded');
  assert.equal(after.agent.pid, status.agent.pid);
  await waitFor('the collector to see the new config version', async () => {
    const view = await collector.api<AgentView>(`/api/v1/agents/${registered.id}`);
    return view.status?.configVersion === after.agent.configVersion ? true : undefined;
  });

  const exit = await agent.proc.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, agent.proc.tail());

  // Nothing that could be sent is left: the queue is empty and the collector has every seq once.
  const left = await queueStatsOf(stateDir);
  assert.equal(left.depth, 0);
  const stored = await allRecords(collector, registered.id);
  assert.deepEqual(seqReport(stored, left.lastSeq), { missing: [], duplicated: [] });
  assert.equal(stored.length, left.lastSeq);

  // After a restart the agent is the same agent: its identity comes from the state dir.
  const again = await startAgent(dir.path, agentYaml({ url: collector.url, stateDir }), {
    OUTPOST_ENROLLMENT_TOKEN: collector.enrollmentToken,
  });
  t.after(() => again.proc.stop('SIGKILL'));
  const restarted = JSON.parse((await agentctl(['status', '--json', '--socket', again.socket])).stdout);
  assert.equal(restarted.collector.agentId, registered.id);
  const { agents } = await collector.api<{ agents: AgentView[] }>('/api/v1/agents');
  assert.equal(agents.length, 1);
  assert.deepEqual(await again.proc.stop('SIGTERM'), { code: 0, signal: null });
});
