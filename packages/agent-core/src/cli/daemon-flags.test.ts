import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { relaunched as relaunchProbe } from '../../../service/test/relaunch-probe.ts';
import { DAEMON_NODE_FLAGS } from './daemon-flags.ts';

// How flags, tunables and NODE_OPTIONS combine is tested with the shared code
// (packages/service/src/node-flags); these run the agent's own relaunch.

/** What the agent's relaunch leaves the re-executed process with. */
function relaunched(nodeArgs: string[], nodeOptions = process.env.NODE_OPTIONS ?? '') {
  return relaunchProbe({
    module: join(import.meta.dirname, 'daemon-flags.ts'),
    call: 'relaunchWithDaemonFlags',
    marker: 'OUTPOST_AGENT_DAEMON_FLAGS',
    nodeArgs,
    args: ['--config', 'x.yaml'],
    env: { NODE_OPTIONS: nodeOptions, GLIBC_TUNABLES: '' },
  });
}

test('daemon flags: the bin re-executes itself with the flags, keeping its pid and arguments', async () => {
  const { pid, seen } = await relaunched([]);
  assert.equal(seen.pid, pid, 'execve keeps the pid a service manager watches');
  for (const flag of DAEMON_NODE_FLAGS) assert.ok(seen.cmdline.includes(flag), seen.cmdline.join(' '));
  assert.deepEqual(seen.argv, ['--config', 'x.yaml']);
  assert.equal(seen.tunables, 'glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2');
  // A plugin host forked with the daemon's execArgv sizes its own heap.
  for (const flag of DAEMON_NODE_FLAGS) assert.ok(!seen.execArgv.includes(flag), seen.execArgv.join(' '));
  assert.equal(seen.marker, null);
});

test('daemon flags: a semi-space size given on the command line stays', async () => {
  // Without NODE_OPTIONS' --no-node-snapshot; the condition resolves @outpost/service to its sources.
  const { seen } = await relaunched(['--max-semi-space-size=2'], '--conditions=outpost-source');
  assert.ok(seen.cmdline.includes('--max-semi-space-size=2'));
  assert.ok(!seen.cmdline.includes('--max-semi-space-size=8'));
  assert.deepEqual(seen.execArgv, ['--max-semi-space-size=2']);
  assert.equal(seen.tunables, '', 'nothing to change: not re-executed');
});

test('daemon flags: with every flag given, only --no-node-snapshot in NODE_OPTIONS makes it re-execute', async () => {
  const flags = [...DAEMON_NODE_FLAGS];
  const kept = await relaunched(flags, '--conditions=outpost-source');
  assert.deepEqual(kept.seen.execArgv, flags, 'nothing to change: not re-executed');
  assert.equal(kept.seen.tunables, '');
  const dropped = await relaunched(flags, '--conditions=outpost-source --no-node-snapshot');
  assert.equal(dropped.seen.nodeOptions, '--conditions=outpost-source');
  assert.equal(dropped.seen.tunables, 'glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2');
});
