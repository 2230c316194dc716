import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  outpostCollector as cli,
  emitMetric,
  startFleet,
  startReceiver,
  tempDir,
  waitFor,
} from './harness.ts';

test('alert cli: an admin adds a rule and a channel, sees the firing in the history, silences the resolve', async (t) => {
  using dir = tempDir('alert-cli');
  const hook = await startReceiver();
  t.after(() => hook.close());
  const { collector, agent, agentId } = await startFleet(t, dir.path, {
    collectorConfig: 'alerts:\n  evaluate_interval: 300ms\n',
  });
  const env = { OUTPOST_COLLECTOR_URL: collector.url, OUTPOST_ADMIN_TOKEN: collector.adminToken };
  const ok = async (args: string[]) => {
    const out = await cli(args, env);
    assert.equal(out.code, 0, `${args.join(' ')}: ${out.stderr}`);
    return out.stdout;
  };

  const added = await ok([
    'alert',
    'rules',
    'add',
    '--type',
    'threshold',
    '--name',
    'room too hot',
    '--metric',
    'test.temperature',
    '--op',
    'above',
    '--threshold',
    '50',
    '--aggregate',
    'last',
    '--agent',
    agentId,
    '--severity',
    'critical',
  ]);
  const ruleId =
    /^rule (rul_[0-9a-f]+) created: room too hot \(last\(test\.temperature\) > 50 over 1m\)$/m.exec(
      added,
    )?.[1];
  assert.ok(ruleId, added);
  const channel = JSON.parse(
    await ok(['alert', 'channels', 'add', 'ops hook', `${hook.url}/alerts`, '--json']),
  ) as {
    id: string;
    url: string;
  };
  assert.equal(channel.url, `${hook.url}/alerts`);

  const rules = await ok(['alert', 'rules', 'list']);
  assert.match(rules, /^ID\s+NAME\s+TYPE\s+SEVERITY\s+FOR\s+ENABLED\s+CONDITION\s+AGENTS\n/);
  assert.match(rules, new RegExp(`${ruleId}\\s+room too hot\\s+threshold\\s+critical\\s+0s\\s+yes\\s+last`));
  assert.deepEqual(
    (JSON.parse(await ok(['alert', 'rules', 'list', '--json'])) as Array<{ id: string }>).map((r) => r.id),
    [ruleId],
  );
  const channels = await ok(['alert', 'channels', 'list']);
  assert.match(
    channels,
    new RegExp(`${channel.id}\\s+ops hook\\s+webhook\\s+http://127\\.0\\.0\\.1:${hook.port}/…\\s+yes`),
  );

  const emit = (value: number) => emitMetric(agent, 'test.temperature', value);
  const statuses = () => hook.requests.map((r) => (JSON.parse(r.body) as { status: string }).status);

  await emit(80);
  await waitFor('the firing notification', () => (statuses().includes('firing') ? true : undefined));
  const history = await ok(['alert', 'history', '--rule', ruleId]);
  assert.match(history, /^TIME\s+ALERT\s+AGENT\s+TRANSITION\s+VALUE\n/);
  assert.match(history, /room too hot\s+\S+\s+inactive -> firing\s+80\n/);
  assert.match(await ok(['alert', 'list', '--state', 'firing']), /firing\s+room too hot\s+\S+\s+80\s+/);
  assert.match(
    await ok(['alert', 'rules', 'show', ruleId]),
    /condition: +last\(test\.temperature\) > 50 over 1m[\s\S]*firing/,
  );

  const silenced = await ok([
    'alert',
    'silence',
    'add',
    '--matcher',
    'alertname=room too hot',
    '--matcher',
    'severity=~crit.*',
    '--duration',
    '1h',
    '--comment',
    'maintenance',
  ]);
  const silenceId =
    /^silence (sil_[0-9a-f]+) created: alertname=room too hot,severity=~crit\.\* until /m.exec(silenced)?.[1];
  assert.ok(silenceId, silenced);
  assert.match(
    await ok(['alert', 'silence', 'list']),
    new RegExp(`${silenceId}\\s+yes\\s+\\S+\\s+alertname=room too hot`),
  );

  // Silenced: the alert still resolves and the history shows it, but no one is notified.
  await emit(20);
  await waitFor('the resolved transition', async () => {
    const out = await ok(['alert', 'history', '--state', 'resolved', '--json']);
    return (JSON.parse(out) as { transitions: unknown[] }).transitions.length === 1 ? true : undefined;
  });
  const outbox = JSON.parse(await ok(['alert', 'channels', 'outbox', '--json'])) as Array<{ status: string }>;
  assert.deepEqual(
    outbox.map((n) => n.status),
    ['delivered'],
  );
  assert.deepEqual(statuses(), ['firing']);

  assert.match(await ok(['alert', 'silence', 'remove', silenceId]), /removed/);
  assert.deepEqual(JSON.parse(await ok(['alert', 'silence', 'list', '--json'])), []);
  assert.match(await ok(['alert', 'channels', 'remove', channel.id]), /removed/);
  const disabled = JSON.parse(await ok(['alert', 'rules', 'disable', ruleId, '--json'])) as Record<
    string,
    unknown
  >;
  assert.deepEqual([disabled.enabled, disabled.threshold, disabled.agent], [false, 50, agentId]);
  assert.match(await ok(['alert', 'rules', 'remove', ruleId]), /removed/);
  assert.deepEqual(JSON.parse(await ok(['alert', 'rules', 'list', '--json'])), []);

  // Mistakes: usage errors exit 2 before anything is sent; refusals by the collector exit 1. They
  // are independent, so they run side by side.
  const threshold = ['alert', 'rules', 'add', '--type', 'threshold', '--name', 'x'];
  const mistakes: Array<[args: string[], env: Record<string, string>, code: number, stderr: RegExp]> = [
    [['alert', 'rules', 'remove', ruleId], env, 1, /404 E_NOT_FOUND: alert rule rul_[0-9a-f]+ not found/],
    [['alert', 'rules', 'add', '--type', 'threshold'], env, 2, /give --type .* and --name/],
    [[...threshold, '--threshold', 'hot'], env, 2, /--threshold: "hot" is not a number/],
    [
      [...threshold, '--metric', 'm', '--op', 'over', '--threshold', '1'],
      env,
      1,
      /400 E_BAD_BODY: op: expected one of "above", "below"/,
    ],
    [
      ['alert', 'silence', 'add', '--matcher', 'nothing', '--duration', '1h'],
      env,
      2,
      /--matcher: "nothing" is not name=value/,
    ],
    [
      ['alert', 'rules', 'list'],
      { ...env, OUTPOST_ADMIN_TOKEN: 'wrong' },
      1,
      /401 E_UNAUTHORIZED: wrong admin token/,
    ],
    [['alert', 'history'], { OUTPOST_COLLECTOR_URL: collector.url }, 2, /no admin token/],
    [
      ['alert', 'channels', 'list', '--url', 'http://127.0.0.1:9'],
      env,
      1,
      /cannot reach the collector at http:\/\/127\.0\.0\.1:9.*is it running/,
    ],
    [['alert', 'rules', 'frobnicate'], env, 2, /unknown command 'frobnicate'/],
  ];
  const outcomes = await Promise.all(mistakes.map(([args, withEnv]) => cli(args, withEnv)));
  mistakes.forEach(([args, , code, stderr], i) => {
    assert.equal(outcomes[i]!.code, code, `${args.join(' ')}: ${outcomes[i]!.stderr}`);
    assert.match(outcomes[i]!.stderr, stderr, args.join(' '));
  });
});
