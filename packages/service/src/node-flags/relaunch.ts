/**
 * Re-executing a daemon with the Node/V8 flags it needs. V8 sizes its heap once, when the process
 * starts, so heap settings cannot be set from inside: a daemon's bin re-executes itself with them
 * before it loads anything else. process.execve replaces the process image, so the pid, the open
 * stdio and the environment stay, and a service manager sees the same process.
 */
export interface NodeFlagsSpec {
  /** The daemon's name, for the warning when it cannot re-execute. */
  program: string;
  /** Flags the daemon runs with unless the operator sets them (on node's command line or in NODE_OPTIONS). */
  nodeFlags: readonly string[];
  /** glibc tunables added to GLIBC_TUNABLES unless the operator sets them. */
  mallocTunables: readonly string[];
  /** Environment variable set on the re-executed process only: the flags it got from the bin. */
  marker: string;
}

/** `--max_semi_space_size=2` and `--max-semi-space-size 2` name the same flag. */
function flagName(arg: string): string {
  return (arg.split('=')[0] as string).replaceAll('_', '-');
}

/** GLIBC_TUNABLES with `tunables` added, where the operator's value sets none of them. */
export function withMallocTunables(current: string | undefined, tunables: readonly string[]): string {
  const given = (current ?? '').split(':').filter(Boolean);
  const names = new Set(given.map((t) => t.split('=')[0]));
  const added = tunables.filter((t) => !names.has(t.split('=')[0]));
  return [...given, ...added].join(':');
}

/**
 * NODE_OPTIONS without --no-node-snapshot, which isolated-vm needs and hosts often set for all of
 * node: a daemon never loads isolated-vm itself (the agent's plugin host adds the flag for itself),
 * and starting from Node's start-up snapshot saves it about 6 MB of RSS.
 */
export function withNodeSnapshot(current: string | undefined): string {
  return (current ?? '')
    .split(/\s+/)
    .filter((arg) => arg !== '' && arg !== '--no-node-snapshot')
    .join(' ');
}

/** The flags of `nodeFlags` that neither the command line nor NODE_OPTIONS set: an operator's value wins. */
export function missingNodeFlags(
  nodeFlags: readonly string[],
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter(Boolean).map(flagName));
  return nodeFlags.filter((flag) => !given.has(flagName(flag)));
}

/**
 * Re-executes this process with the flags it lacks, the malloc settings and, when NODE_OPTIONS
 * turns it off, Node's start-up snapshot; returns when there is nothing to change, or when it was
 * re-executed already. In the re-executed process the added flags leave process.execArgv, so
 * children forked with the daemon's execArgv (the agent's plugin host, which sizes its own heap)
 * get only the operator's.
 */
export function relaunchWithNodeFlags(spec: NodeFlagsSpec): void {
  const added = process.env[spec.marker];
  if (added !== undefined) {
    delete process.env[spec.marker];
    const ours = new Set(added.split(' '));
    const operators = process.execArgv.filter((arg) => !ours.has(arg));
    process.execArgv.splice(0, process.execArgv.length, ...operators);
    return;
  }
  const nodeOptions = process.env.NODE_OPTIONS;
  const missing = missingNodeFlags(spec.nodeFlags, process.execArgv, nodeOptions);
  const snapshotOff = (nodeOptions ?? '').split(/\s+/).includes('--no-node-snapshot');
  if ((missing.length === 0 && !snapshotOff) || typeof process.execve !== 'function') return;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: withNodeSnapshot(nodeOptions),
    [spec.marker]: missing.join(' '),
  };
  if (spec.mallocTunables.length > 0) {
    env.GLIBC_TUNABLES = withMallocTunables(process.env.GLIBC_TUNABLES, spec.mallocTunables);
  }
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
      env,
    );
  } catch (err) {
    // Only memory use and GC work depend on the flags: the daemon runs without them rather than not at all.
    process.emitWarning(
      `${spec.program}: could not re-execute with ${missing.join(' ')} (${(err as Error).message}); running with V8's default heap sizes`,
    );
  }
}
