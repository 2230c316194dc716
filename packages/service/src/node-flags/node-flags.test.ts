import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { relaunched as relaunchProbe } from '../../test/relaunch-probe.ts';
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

/** What relaunchWithNodeFlags(spec) leaves the re-executed process with. */
function relaunched(spec: NodeFlagsSpec, nodeArgs: string[], env: NodeJS.ProcessEnv) {
  return relaunchProbe({
    module: join(import.meta.dirname, 'index.ts'),
    call: 'relaunchWithNodeFlags',
    callArgs: [spec],
    marker: spec.marker,
    nodeArgs,
    args: ['serve', '--listen', 'x'],
    env,
  });
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
