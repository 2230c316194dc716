/**
 * The V8 heap settings the daemon runs with. V8 sizes its heap once, when the process starts, so
 * they cannot be set from inside: the outpost-agent bin re-executes itself with them before it
 * loads anything else. process.execve replaces the process image, so the pid, the open stdio and
 * the environment stay, and a service manager sees the same process.
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

/** Set on the re-executed process only: the flags it got from the bin, not from the operator. */
const RELAUNCH_MARKER = 'OUTPOST_AGENT_DAEMON_FLAGS';

/** `--max_semi_space_size=2` and `--max-semi-space-size 2` name the same flag. */
function flagName(arg: string): string {
  return (arg.split('=')[0] as string).replaceAll('_', '-');
}

/** GLIBC_TUNABLES with the daemon's malloc settings added, where the operator's sets none of them. */
export function daemonTunables(current: string | undefined): string {
  const given = (current ?? '').split(':').filter(Boolean);
  const names = new Set(given.map((t) => t.split('=')[0]));
  const added = DAEMON_MALLOC_TUNABLES.filter((t) => !names.has(t.split('=')[0]));
  return [...given, ...added].join(':');
}

/**
 * NODE_OPTIONS without --no-node-snapshot, which isolated-vm needs and hosts often set for all of
 * node: the daemon never loads isolated-vm (its plugin host adds the flag for itself), and starting
 * from Node's start-up snapshot saves it about 6 MB of RSS.
 */
export function daemonNodeOptions(current: string | undefined): string {
  return (current ?? '')
    .split(/\s+/)
    .filter((arg) => arg !== '' && arg !== '--no-node-snapshot')
    .join(' ');
}

/** The daemon flags that neither the command line nor NODE_OPTIONS set: an operator's value wins. */
export function missingDaemonFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter(Boolean).map(flagName));
  return DAEMON_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
}

/**
 * Re-executes this process with the daemon flags it lacks, the malloc settings and, when
 * NODE_OPTIONS turns it off, Node's start-up snapshot; returns when there is nothing to change, or
 * when it was re-executed already. In the re-executed process the added flags leave
 * process.execArgv, so children forked with the daemon's flags (the plugin host, which sizes its
 * own heap) get only the operator's.
 */
export function relaunchWithDaemonFlags(): void {
  const added = process.env[RELAUNCH_MARKER];
  if (added !== undefined) {
    delete process.env[RELAUNCH_MARKER];
    const ours = new Set(added.split(' '));
    const operators = process.execArgv.filter((arg) => !ours.has(arg));
    process.execArgv.splice(0, process.execArgv.length, ...operators);
    return;
  }
  const nodeOptions = process.env.NODE_OPTIONS;
  const missing = missingDaemonFlags(process.execArgv, nodeOptions);
  const snapshotOff = (nodeOptions ?? '').split(/\s+/).includes('--no-node-snapshot');
  if ((missing.length === 0 && !snapshotOff) || typeof process.execve !== 'function') return;
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
      {
        ...process.env,
        NODE_OPTIONS: daemonNodeOptions(nodeOptions),
        GLIBC_TUNABLES: daemonTunables(process.env.GLIBC_TUNABLES),
        [RELAUNCH_MARKER]: missing.join(' '),
      },
    );
  } catch (err) {
    // Only memory use depends on the flags: the daemon runs without them rather than not at all.
    process.emitWarning(
      `outpost-agent: could not re-execute with ${missing.join(' ')} (${(err as Error).message}); running with V8's default heap sizes`,
    );
  }
}
