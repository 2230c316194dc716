/**
 * The quick start: one collector and one agent on this machine, data in ./.outpost, and a live
 * line of what arrives. Ctrl-C stops the agent first (it flushes), then the collector.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: join(root, '.outpost') },
    listen: { type: 'string', default: '127.0.0.1:7410' },
    'until-data': { type: 'boolean', default: false },
  },
});
const dir = resolve(args.dir);
const logs = join(dir, 'logs');
mkdirSync(logs, { recursive: true });
const show = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel || '.';
};

function start(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C reaches only this script, which stops the agent before the collector.
    detached: true,
  });
  const log = createWriteStream(join(logs, `${name}.log`), { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk}`));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(
        `${name} exited unexpectedly (${signal ?? `code ${code}`}); see ${show(join(logs, `${name}.log`))}`,
      );
      void stop(1);
    }
  });
  return child;
}

function firstLogLine(child: ChildProcess, msg: string): Promise<Record<string, unknown>> {
  return new Promise((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === msg) resolveLine(entry);
      } catch {
        // not a log line
      }
    });
    child.once('exit', () => reject(new Error(`exited before logging "${msg}"`)));
  });
}

let stopping = false;
const children: ChildProcess[] = [];
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Agent first: it sends what it still holds while the collector is up.
  for (const child of children.toReversed()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
// Detached children outlive an abrupt exit of this script unless it takes them along.
process.on('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

const collectorDir = join(dir, 'collector');
const collector = start('collector', [
  'packages/collector/src/cli/outpost-collector.ts',
  'serve',
  '--listen',
  args.listen,
  '--data-dir',
  collectorDir,
]);
children.push(collector);
const listening = await firstLogLine(collector, 'collector listening');
const url = String(listening.url);
const adminTokenFile = String(listening.adminTokenFile);
const enrollmentToken = readFileSync(String(listening.enrollmentTokenFile), 'utf8').trim();
const adminToken = readFileSync(adminTokenFile, 'utf8').trim();

const agentConfig = join(dir, 'agent.yaml');
writeFileSync(
  agentConfig,
  `# Written by the quick start; see README.md for every key.
collector:
  url: ${url}
  enrollment_token: \${OUTPOST_ENROLLMENT_TOKEN}
agent:
  state_dir: ./agent
  labels:
    env: quickstart
inputs:
  system:
    interval: 5s
  processes:
    interval: 5s
    self: true
heartbeat:
  interval: 5s
`,
);
const agent = start('agent', ['packages/agent-core/src/cli/outpost-agent.ts', '--config', agentConfig], {
  OUTPOST_ENROLLMENT_TOKEN: enrollmentToken,
});
children.push(agent);
await firstLogLine(agent, 'agent started');

const auth = { authorization: `Bearer ${adminToken}` };
const tokenRef = `$(cat ${show(adminTokenFile)})`;
console.log(`
Outpost is running: a collector and an agent on this machine.
  collector   ${url}   data ${show(collectorDir)}   log ${show(join(logs, 'collector.log'))}
  agent       config ${show(agentConfig)}   state ${show(join(dir, 'agent'))}   log ${show(join(logs, 'agent.log'))}

Open the status page (sign in with the admin token in ${show(adminTokenFile)}):
  ${url}/

Look at the incoming data:
  curl -s -H "Authorization: Bearer ${tokenRef}" '${url}/api/v1/agents'
  curl -s -H "Authorization: Bearer ${tokenRef}" '${url}/api/v1/metrics?name=system.cpu.utilization&limit=5'
  bash scripts/with-toolchain.sh pnpm agentctl status --socket ${show(join(dir, 'agent', 'agent.sock'))}

Press Ctrl-C to stop both (the agent flushes what it holds first).
`);

let cursor: string | null = null;
let stored = 0;
const names = new Set<string>();
for (;;) {
  const query: string = cursor ? `&after=${encodeURIComponent(cursor)}` : '';
  const res = await fetch(`${url}/api/v1/metrics?limit=10000${query}`, { headers: auth });
  if (res.ok) {
    const page = (await res.json()) as { metrics: Array<{ name: string }>; next: string | null };
    stored += page.metrics.length;
    for (const m of page.metrics) names.add(m.name);
    cursor = page.next ?? cursor;
    if (page.metrics.length > 0) {
      const agents = (await (await fetch(`${url}/api/v1/agents`, { headers: auth })).json()) as {
        agents: Array<{ id: string; state: string }>;
      };
      const states = agents.agents.map((a) => `${a.id} ${a.state}`).join(', ');
      console.log(
        `${new Date().toISOString()}  ${stored} metric records stored, ${names.size} metric names  [${states}]`,
      );
      if (args['until-data']) await stop(0);
    }
  } else {
    console.error(`collector answered ${res.status} to /api/v1/metrics: ${await res.text()}`);
  }
  await new Promise((r) => setTimeout(r, 5000));
}
