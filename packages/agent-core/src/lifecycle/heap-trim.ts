import { SelfUsage } from './self-usage.ts';
import { type GcFunction, v8Gc } from './v8-gc.ts';

export interface HeapTrimOptions {
  /** How often the process is looked at. Default 30 s. */
  intervalMs?: number;
  /**
   * The first look after start(). Default 10 s (at most intervalMs): start-up (module loading,
   * config parsing, the first cycles) leaves the most to trim, and a first look a whole interval
   * later kept an idle daemon 15 MB above its trimmed size for that long (bench/idle.bench.ts).
   */
  firstCheckMs?: number;
  /** Below this CPU share (% of one core) since the last look, the process counts as quiet. Default 2. */
  quietCpuPercent?: number;
  /**
   * RSS growth since the last trim that makes a quiet process worth a trim. Default 2 MiB: an idle
   * daemon grows about 8 MiB in a few minutes (young generation, ten-second collection cycles), and
   * with 8 MiB it spent that time above its trimmed size (bench/idle.bench.ts: 1.5-2.5 MB less RSS,
   * avg and max, for at most one trim a minute, each a few tens of ms).
   */
  minGrowthBytes?: number;
}

export interface HeapTrimStats {
  trims: number;
  /** RSS given back by the trims so far. */
  releasedBytes: number;
  lastTrimAt: number | null;
  lastTrimMs: number | null;
}

/**
 * Gives memory back once the process is quiet. V8 keeps the heap it grew to (start-up's module
 * loading and config parsing, a burst of log lines), and its own memory reducer does not always
 * run on a daemon that wakes every few seconds. When the process has been quiet for a whole
 * interval and its RSS grew since the last trim, one memory-reducing full collection (what V8 runs
 * on a low-memory notification) shrinks the young generation, compacts the old one and frees dead
 * buffers (bench/idle.bench.ts), for tens of ms of CPU each time. The daemon and its plugin host
 * each run one.
 */
export class HeapTrim {
  readonly #intervalMs: number;
  readonly #firstCheckMs: number;
  readonly #quietCpuPercent: number;
  readonly #minGrowthBytes: number;
  readonly #gc: GcFunction;
  #timer: NodeJS.Timeout | undefined;
  #usage = new SelfUsage();
  /** RSS right after the last trim; 0 before the first, so start-up's growth is trimmed too. */
  #rssAfterTrim = 0;
  readonly #stats: HeapTrimStats = { trims: 0, releasedBytes: 0, lastTrimAt: null, lastTrimMs: null };

  constructor(options: HeapTrimOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 30_000;
    this.#firstCheckMs = options.firstCheckMs ?? Math.min(10_000, this.#intervalMs);
    this.#quietCpuPercent = options.quietCpuPercent ?? 2;
    this.#minGrowthBytes = options.minGrowthBytes ?? 2 * 1024 * 1024;
    this.#gc = v8Gc();
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#usage = new SelfUsage();
    this.#timer = setTimeout(() => {
      this.check();
      this.#timer = setInterval(() => this.check(), this.#intervalMs);
      this.#timer.unref();
    }, this.#firstCheckMs);
    this.#timer.unref();
  }

  /** One look: trims when the process was quiet since the previous look and has grown. */
  check(): boolean {
    const { cpuPercent, rssBytes } = this.#usage.read();
    if (cpuPercent >= this.#quietCpuPercent) return false;
    if (rssBytes - this.#rssAfterTrim < this.#minGrowthBytes) return false;
    this.trim();
    return true;
  }

  /** One memory-reducing full collection, now. */
  trim(): void {
    const before = process.memoryUsage.rss();
    const started = performance.now();
    this.#gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const after = process.memoryUsage.rss();
    this.#rssAfterTrim = after;
    this.#stats.trims++;
    this.#stats.releasedBytes += Math.max(0, before - after);
    this.#stats.lastTrimAt = Date.now();
    this.#stats.lastTrimMs = performance.now() - started;
    // Its own CPU must not make the next look see a busy process.
    this.#usage = new SelfUsage();
  }

  stats(): HeapTrimStats {
    return { ...this.#stats };
  }

  /** Stops looking; safe to call twice. */
  close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }
}
