import { type NodeFlagsSpec, relaunchWithNodeFlags } from '@outpost/service/node-flags';

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

/** Re-executes the agent with the daemon flags and malloc settings it lacks (see relaunchWithNodeFlags). */
export function relaunchWithDaemonFlags(): void {
  relaunchWithNodeFlags(SPEC);
}
