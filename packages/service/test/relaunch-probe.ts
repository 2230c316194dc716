/**
 * A script that re-executes itself as a daemon's bin does (relaunchWithNodeFlags or a bin's own
 * wrapper of it) and prints what the re-executed process sees of itself, for the tests of the
 * shared code and of each bin's flags.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface RelaunchProbe {
  /** Absolute path of the module exporting the relaunch function. */
  module: string;
  /** Its export to call, and the JSON arguments to call it with. */
  call: string;
  callArgs?: unknown[];
  /** The marker variable the relaunch sets on the re-executed process. */
  marker: string;
  /** Node's own arguments, before the script. */
  nodeArgs: string[];
  /** The script's arguments, as a bin's. */
  args: string[];
  /** Added to this process's environment. */
  env: NodeJS.ProcessEnv;
}

export interface RelaunchSeen {
  pid: number;
  cmdline: string[];
  execArgv: string[];
  argv: string[];
  tunables: string | null;
  marker: string | null;
  nodeOptions: string | null;
}

/** Runs the probe; `pid` is the process started, `seen` what the process that printed saw. */
export async function relaunched(
  probe: RelaunchProbe,
): Promise<{ pid: number | undefined; seen: RelaunchSeen }> {
  const dir = mkdtempSync(join(tmpdir(), 'relaunch-probe-'));
  try {
    const script = join(dir, 'entry.ts');
    const callArgs = (probe.callArgs ?? []).map((arg) => JSON.stringify(arg)).join(', ');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { ${probe.call} } from ${JSON.stringify(probe.module)};
${probe.call}(${callArgs});
console.log(JSON.stringify({
  pid: process.pid,
  cmdline: readFileSync('/proc/self/cmdline', 'utf8').split('\\0').filter(Boolean),
  execArgv: process.execArgv,
  argv: process.argv.slice(2),
  tunables: process.env.GLIBC_TUNABLES ?? null,
  marker: process.env[${JSON.stringify(probe.marker)}] ?? null,
  nodeOptions: process.env.NODE_OPTIONS ?? null,
}));
`,
    );
    const run = promisify(execFile)(process.execPath, [...probe.nodeArgs, script, ...probe.args], {
      env: { ...process.env, ...probe.env },
    });
    const { stdout } = await run;
    return { pid: run.child.pid, seen: JSON.parse(stdout) as RelaunchSeen };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
