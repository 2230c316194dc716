import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/outpost-collector.ts', import.meta.url));
const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-cli-'));

interface Run {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[]): Run {
  const env = { ...process.env };
  delete env.OUTPOST_ADMIN_TOKEN;
  delete env.OUTPOST_ENROLLMENT_TOKEN;
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, lines, stderr: () => stderr, exited };
}

async function waitForLine(r: Run, msg: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = r.lines.find((l) => l.msg === msg);
    if (line) return line;
    if (r.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no "${msg}" line; stdout: ${JSON.stringify(r.lines)}; stderr: ${r.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('cli: serves until SIGTERM, then exits 0', async (t) => {
  const dataDir = tempDir();
  const r = run(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  t.after(() => r.child.kill('SIGKILL'));
  const listening = await waitForLine(r, 'collector listening');
  assert.match(String(listening.url), /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(listening.url, 'http://127.0.0.1:0', 'logs the real port');
  assert.equal(listening.dataDir, dataDir);
  assert.equal(listening.adminTokenFile, path.join(dataDir, 'admin-token'));
  assert.equal(listening.enrollmentTokenFile, path.join(dataDir, 'enrollment-token'));

  const health = await fetch(`${listening.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });

  r.child.kill('SIGTERM');
  assert.equal(await r.exited, 0, r.stderr());
  assert.ok(r.lines.some((l) => l.msg === 'collector stopped'));
  const stdout = JSON.stringify(r.lines);
  for (const file of ['admin-token', 'enrollment-token']) {
    const secret = readFileSync(path.join(dataDir, file), 'utf8').trim();
    assert.ok(!stdout.includes(secret), `the ${file} value never reaches the log`);
  }
});

test('cli: a config file with a bad key exits 2 naming file, line and key', async () => {
  const file = path.join(tempDir(), 'collector.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:0\nagents:\n  ofline_after: 30s\n');
  const r = run(['serve', '--config', file]);
  assert.equal(await r.exited, 2);
  const lines = r.stderr().trim().split('\n');
  assert.equal(lines.length, 1, r.stderr());
  assert.match(
    lines[0]!,
    new RegExp(`^outpost-collector: .*${file.replaceAll('.', '\\.')}:3:3: key "agents\\.ofline_after"`),
  );
  assert.match(lines[0]!, /did you mean "offline_after"/);
});

test('cli: a port in use exits 1 with one line on stderr', async (t) => {
  const blocker = net.createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.after(() => blocker.close());
  const { port } = blocker.address() as net.AddressInfo;
  const r = run(['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', tempDir()]);
  assert.equal(await r.exited, 1);
  assert.equal(r.stderr(), `outpost-collector: cannot listen on 127.0.0.1:${port}: address already in use\n`);
});

test('cli: an unknown flag is a usage error', async () => {
  const r = run(['serve', '--no-such-flag']);
  assert.equal(await r.exited, 2);
  assert.match(r.stderr(), /unknown option '--no-such-flag'/);
});
