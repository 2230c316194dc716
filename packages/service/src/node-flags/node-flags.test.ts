import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { missingNodeFlags, type NodeFlagsSpec, withMallocTunables, withNodeSnapshot } from './index.ts';

const FLAGS = ['--max-semi-space-size=16', '--stack-size=2000'];

test('node flags: an operator value on the command line or in NODE_OPTIONS wins, flag by flag', () => {
  assert.deepEqual(missingNodeFlags(FLAGS, [], undefined), FLAGS);
  assert.deepEqual(missingNodeFlags(FLAGS, ['--max_semi_space_size=2'], ''), ['--stack-size=2000']);
  assert.deepEqual(
    missingNodeFlags(FLAGS, ['--expose-gc'], ' --max-semi-space-size=0 --stack-size=900 '),
    [],
  );
  assert.deepEqual(missingNodeFlags([], ['--expose-gc'], undefined), []);
});

test('node flags: malloc tunables join the operator GLIBC_TUNABLES without overriding them', () => {
  const ours = ['glibc.malloc.mmap_threshold=131072', 'glibc.malloc.arena_max=2'];
  assert.equal(withMallocTunables(undefined, ours), ours.join(':'));
  assert.equal(
    withMallocTunables('glibc.malloc.arena_max=8:glibc.pthread.rseq=0', ours),
    'glibc.malloc.arena_max=8:glibc.pthread.rseq=0:glibc.malloc.mmap_threshold=131072',
  );
  assert.equal(withMallocTunables('glibc.pthread.rseq=0', []), 'glibc.pthread.rseq=0');
});

test('node flags: NODE_OPTIONS loses --no-node-snapshot and keeps the rest', () => {
  assert.equal(
    withNodeSnapshot('--conditions=outpost-source --no-node-snapshot'),
    '--conditions=outpost-source',
  );
  assert.equal(withNodeSnapshot(undefined), '');
});

/** Runs a script that relaunches with `spec`, and what the relaunched process sees of itself. */
async function relaunched(spec: NodeFlagsSpec, nodeArgs: string[], env: NodeJS.ProcessEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'node-flags-'));
  try {
    const script = join(dir, 'entry.ts');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { relaunchWithNodeFlags } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};
relaunchWithNodeFlags(${JSON.stringify(spec)});
console.log(JSON.stringify({
  pid: process.pid,
  cmdline: readFileSync('/proc/self/cmdline', 'utf8').split('\\0').filter(Boolean),
  execArgv: process.execArgv,
  argv: process.argv.slice(2),
  tunables: process.env.GLIBC_TUNABLES ?? null,
  marker: process.env[${JSON.stringify(spec.marker)}] ?? null,
}));
`,
    );
    const run = promisify(execFile)(process.execPath, [...nodeArgs, script, 'serve', '--listen', 'x'], {
      env: { ...process.env, ...env },
    });
    const { stdout } = await run;
    return { pid: run.child.pid, seen: JSON.parse(stdout) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SPEC: NodeFlagsSpec = {
  program: 'test-daemon',
  nodeFlags: ['--max-semi-space-size=16'],
  mallocTunables: [],
  marker: 'TEST_DAEMON_FLAGS',
};

test('node flags: a daemon re-executes itself with its flags, keeping pid, arguments and GLIBC_TUNABLES', async () => {
  const { pid, seen } = await relaunched(SPEC, ['--expose-gc'], {
    NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
    GLIBC_TUNABLES: 'glibc.pthread.rseq=0',
  });
  assert.equal(seen.pid, pid, 'execve keeps the pid a service manager watches');
  assert.ok(seen.cmdline.includes('--max-semi-space-size=16'), seen.cmdline.join(' '));
  assert.deepEqual(seen.argv, ['serve', '--listen', 'x']);
  assert.equal(seen.tunables, 'glibc.pthread.rseq=0', 'a spec without malloc tunables leaves them alone');
  // Children forked with process.execArgv get the operator's flags only.
  assert.deepEqual(seen.execArgv, ['--expose-gc']);
  assert.equal(seen.marker, null);
});

test('node flags: an operator value in NODE_OPTIONS means no re-execution', async () => {
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=0`.trim();
  const { seen } = await relaunched(SPEC, [], { NODE_OPTIONS: nodeOptions });
  assert.ok(!seen.cmdline.includes('--max-semi-space-size=16'), seen.cmdline.join(' '));
  assert.deepEqual(seen.execArgv, []);
});
