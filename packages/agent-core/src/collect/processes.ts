import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import pidusage from 'pidusage';
import type { ProcessMatch } from '../config/index.ts';
import { type InputOptions, PollingInput } from './input.ts';

export interface ProcessInputOptions extends InputOptions {
  /** Report the agent's own process (attr outpost.self: true). Default true. */
  self?: boolean;
  match?: readonly ProcessMatch[];
}

const COMMAND_LINE_MAX = 256;
// The kernel keeps only the first 15 bytes of a process name in /proc/<pid>/comm.
const COMM_MAX = 15;
// pidusage keeps per-pid history (and an open fd) for this long by default; our own samples
// must outlive one interval for the CPU rate, so ask it to keep them at least as long.
const PIDUSAGE_MIN_MAXAGE_MS = 60_000;

interface Target {
  pid: number;
  self: boolean;
  comm?: string;
  cmdline?: string;
}

interface Sample {
  ctimeMs: number;
  elapsedMs: number;
}

/**
 * CPU and RSS of the agent itself and of processes matched by name, pid or command-line pattern.
 * Processes are found by scanning /proc (Linux), which costs far less than listing every process
 * with full details.
 */
export class ProcessInput extends PollingInput {
  readonly name = 'processes';
  readonly #self: boolean;
  readonly #names: string[];
  readonly #pids: number[];
  readonly #patterns: Array<{ source: string; re: RegExp }>;
  readonly #maxageMs: number;
  #previous = new Map<number, Sample>();
  readonly #reportedMissing = new Set<string>();
  #warnedNoProc = false;

  constructor(options: ProcessInputOptions) {
    super(options);
    this.#self = options.self ?? true;
    const match = options.match ?? [];
    this.#names = match.flatMap((m) => ('name' in m ? [m.name] : []));
    this.#pids = match.flatMap((m) => ('pid' in m ? [m.pid] : []));
    this.#patterns = match.flatMap((m) =>
      'pattern' in m ? [{ source: m.pattern, re: new RegExp(m.pattern) }] : [],
    );
    this.#maxageMs = Math.max(PIDUSAGE_MIN_MAXAGE_MS, 3 * options.intervalMs);
  }

  // A CPU rate needs a previous sample; take it now so the first scheduled cycle has one.
  protected override async prepare(): Promise<void> {
    await this.collect();
  }

  protected async collect(): Promise<OutpostRecord[]> {
    const targets = await this.#findTargets();
    if (targets.size === 0) {
      this.#previous = new Map();
      return [];
    }
    const usage = await pidusage([...targets.keys()], { maxage: this.#maxageMs });
    const ts = Date.now();
    const records: OutpostRecord[] = [];
    const samples = new Map<number, Sample>();
    for (const target of targets.values()) {
      const stat = usage[target.pid];
      // The process exited between discovery and sampling.
      if (stat === undefined || stat === null) continue;
      const sample = { ctimeMs: stat.ctime, elapsedMs: stat.elapsed };
      samples.set(target.pid, sample);
      const attrs = await this.#attrs(target);
      const metric = (name: string, value: number, unit: string): OutpostRecord => ({
        kind: 'metric',
        ts,
        name,
        value,
        unit,
        attrs,
        source: 'process',
      });
      const cpu = cpuUtilization(this.#previous.get(target.pid), sample);
      if (cpu !== undefined) records.push(metric('process.cpu.utilization', cpu, '1'));
      if (Number.isFinite(stat.memory)) records.push(metric('process.memory.usage', stat.memory, 'By'));
    }
    this.#previous = samples;
    return records;
  }

  async #findTargets(): Promise<Map<number, Target>> {
    const targets = new Map<number, Target>();
    if (this.#self) {
      // /proc has the real command line, node flags included; argv is the fallback elsewhere.
      const cmdline = process.platform === 'linux' ? undefined : process.argv.join(' ');
      targets.set(process.pid, { pid: process.pid, self: true, cmdline });
    }

    for (const pid of this.#pids) {
      if (targets.has(pid)) continue;
      if (process.platform !== 'linux') {
        targets.set(pid, { pid, self: false });
        continue;
      }
      const comm = await readProc(pid, 'comm');
      if (comm === undefined) {
        this.#missing(`pid ${pid}`);
        continue;
      }
      this.#reportedMissing.delete(`pid ${pid}`);
      targets.set(pid, { pid, self: false, comm: comm.trimEnd() });
    }

    if (this.#names.length === 0 && this.#patterns.length === 0) return targets;
    if (process.platform !== 'linux') {
      if (!this.#warnedNoProc) {
        this.#warnedNoProc = true;
        this.logger.warn(
          'process matching by name or pattern needs /proc (Linux); only pids are watched here',
        );
      }
      return targets;
    }
    const found = new Set<string>();
    const entries = (await readdir('/proc')).filter((e) => /^\d+$/.test(e));
    await Promise.all(
      entries.map(async (entry) => {
        const pid = Number(entry);
        const candidate = await this.#describe(pid);
        if (candidate === undefined) return;
        const matched = this.#matches(candidate);
        if (matched.length === 0) return;
        for (const m of matched) found.add(m);
        if (!targets.has(pid))
          targets.set(pid, { pid, self: false, comm: candidate.comm, cmdline: candidate.cmdline });
      }),
    );
    for (const name of this.#names) if (!found.has(`name ${name}`)) this.#missing(`name ${name}`);
    for (const { source } of this.#patterns)
      if (!found.has(`pattern ${source}`)) this.#missing(`pattern ${source}`);
    for (const key of found) this.#reportedMissing.delete(key);
    return targets;
  }

  async #describe(
    pid: number,
  ): Promise<{ comm: string; exe: string | undefined; cmdline: string } | undefined> {
    const [comm, rawCmdline, exe] = await Promise.all([
      readProc(pid, 'comm'),
      this.#patterns.length > 0 ? readProc(pid, 'cmdline') : Promise.resolve(''),
      this.#names.length > 0 ? executableName(pid) : Promise.resolve(undefined),
    ]);
    if (comm === undefined || rawCmdline === undefined) return undefined;
    return { comm: comm.trimEnd(), exe, cmdline: joinCmdline(rawCmdline) };
  }

  /** Which of the match rules (as "name x" / "pattern y") select this process. */
  #matches(p: { comm: string; exe: string | undefined; cmdline: string }): string[] {
    const matched: string[] = [];
    for (const name of this.#names) {
      // The comm is what ps and top show; the executable's name also counts because some
      // runtimes rename their main thread (Node's comm is "MainThread").
      const comm = name.length > COMM_MAX ? name.slice(0, COMM_MAX) : name;
      if (p.comm === comm || p.exe === name) matched.push(`name ${name}`);
    }
    for (const { source, re } of this.#patterns) {
      // Kernel threads have no command line; a pattern never selects them.
      if (p.cmdline !== '' && re.test(p.cmdline)) matched.push(`pattern ${source}`);
    }
    return matched;
  }

  #missing(what: string): void {
    if (this.#reportedMissing.has(what)) return;
    this.#reportedMissing.add(what);
    this.logger.debug({ input: this.name, match: what }, `process match ${what} found no process`);
  }

  async #attrs(target: Target): Promise<Record<string, AttrValue>> {
    const attrs: Record<string, AttrValue> = { 'process.pid': target.pid };
    if (target.self) {
      attrs['process.executable.name'] = path.basename(process.execPath);
    } else {
      const name = (await executableName(target.pid)) ?? target.comm;
      if (name !== undefined) attrs['process.executable.name'] = name;
    }
    let cmdline = target.cmdline;
    if (cmdline === undefined) {
      const raw = await readProc(target.pid, 'cmdline');
      cmdline = raw === undefined ? '' : joinCmdline(raw);
    }
    if (cmdline !== '') attrs['process.command_line'] = cmdline.slice(0, COMMAND_LINE_MAX);
    if (target.self) attrs['outpost.self'] = true;
    return attrs;
  }
}

/** Fraction of one core used between two samples of the same process; none for a first sight. */
function cpuUtilization(previous: Sample | undefined, current: Sample): number | undefined {
  if (previous === undefined) return undefined;
  const elapsed = current.elapsedMs - previous.elapsedMs;
  const used = current.ctimeMs - previous.ctimeMs;
  // A reused pid is a new process: its counters restart, so elapsed or CPU time goes backwards.
  if (!(elapsed > 0) || used < 0) return undefined;
  return used / elapsed;
}

async function readProc(pid: number, file: 'comm' | 'cmdline'): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Basename of /proc/<pid>/exe; unreadable for other users' processes unless running as root. */
async function executableName(pid: number): Promise<string | undefined> {
  try {
    return path.basename(await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

function joinCmdline(raw: string): string {
  return raw
    .split('\0')
    .filter((arg) => arg !== '')
    .join(' ');
}
