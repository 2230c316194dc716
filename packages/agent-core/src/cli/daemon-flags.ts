import {
  missingNodeFlags,
  type NodeFlagsSpec,
  relaunchWithNodeFlags,
  withMallocTunables,
  withNodeSnapshot,
} from '@outpost/service/node-flags';

/**
 * The V8 heap settings the daemon runs with; the outpost-agent bin re-executes itself with them
 * before it loads anything else (@outpost/service/node-flags).
 *
 * Why (bench/logs-e2e.bench.ts, log lines at full speed): under a steady stream of records V8's
 * default young generation grows to over 100 MB (of a 420 MB peak RSS), and scavenges every 8 MB
 * do as well: the CPU per line stays within run-to-run noise. Smaller
 * semi-spaces, or a slower-growing old generation (--heap-growing-percent, --max-old-space-size),
 * cut the peak further but cost 12-25% more CPU per line.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * glibc's malloc, which also holds Buffers: once a freed 1 MB buffer (an encoded batch) has raised
 * its dynamic mmap threshold, every later one comes from the heap and the freed space stays in RSS,
 * 20-30 MB at a peak; and each thread that allocates gets an arena of its own.
 */
export const DAEMON_MALLOC_TUNABLES: readonly string[] = [
  'glibc.malloc.mmap_threshold=131072',
  'glibc.malloc.arena_max=2',
];

const SPEC: NodeFlagsSpec = {
  program: 'outpost-agent',
  nodeFlags: DAEMON_NODE_FLAGS,
  mallocTunables: DAEMON_MALLOC_TUNABLES,
  marker: 'OUTPOST_AGENT_DAEMON_FLAGS',
};

/** GLIBC_TUNABLES with the daemon's malloc settings added, where the operator's sets none of them. */
export function daemonTunables(current: string | undefined): string {
  return withMallocTunables(current, DAEMON_MALLOC_TUNABLES);
}

/** NODE_OPTIONS without --no-node-snapshot: only the plugin host loads isolated-vm, and adds it itself. */
export function daemonNodeOptions(current: string | undefined): string {
  return withNodeSnapshot(current);
}

/** The daemon flags that neither the command line nor NODE_OPTIONS set: an operator's value wins. */
export function missingDaemonFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return missingNodeFlags(DAEMON_NODE_FLAGS, execArgv, nodeOptions);
}

/** Re-executes the agent with the daemon flags and malloc settings it lacks (see relaunchWithNodeFlags). */
export function relaunchWithDaemonFlags(): void {
  relaunchWithNodeFlags(SPEC);
}
