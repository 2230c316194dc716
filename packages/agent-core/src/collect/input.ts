import type { OutpostRecord } from '@outpost/plugin-sdk';
import type { Logger } from 'pino';
import { inputClosed } from './errors.ts';

export interface InputStats {
  /** Collections attempted, scheduled or through collectOnce(). */
  runs: number;
  /** Failed collections, plus parts of a collection that failed while the rest succeeded. */
  errors: number;
  /** Ticks skipped because the previous collection was still running. */
  skipped: number;
  lastError: string | null;
  lastDurationMs: number | null;
  /** Records collected. */
  records: number;
}

export interface Input {
  readonly name: string;
  /** Starts collecting every interval; records go to `emit`. Safe to call twice. */
  start(): void;
  /** One collection, returned instead of emitted; throws if it fails. */
  collectOnce(): Promise<OutpostRecord[]>;
  stats(): InputStats;
  /**
   * Collects every interval x `factor` from now on (1 restores the configured interval); the
   * resource guard slows inputs this way under load. Inputs driven by file events lack it.
   */
  setSlowdown?(factor: number): void;
  /** Stops the timer and waits for a collection in progress. Returns the same promise every time. */
  close(): Promise<void>;
}

/**
 * Where an input's records go. Resolves true once they are committed to the queue together with
 * `cursors` (input positions, e.g. log file offsets; null deletes one), false when the queue refused
 * them (block policy, queue full): the input keeps its position and offers them again later.
 */
export type Emit = (
  records: OutpostRecord[],
  options?: { cursors?: Record<string, string | null> },
) => Promise<boolean>;

export interface InputOptions {
  intervalMs: number;
  emit: Emit;
  logger: Logger;
}

// Bounds memory for an input whose error messages keep changing (e.g. they embed a pid).
const MAX_REMEMBERED_ERRORS = 64;

/**
 * Runs `collect()` on a fixed interval: cycles never overlap (a tick that finds the previous
 * cycle still running is skipped), and a failure is counted and logged, never thrown out of the
 * timer.
 */
export abstract class PollingInput implements Input {
  abstract readonly name: string;
  protected readonly logger: Logger;
  readonly #intervalMs: number;
  readonly #emit: Emit;
  #timer: NodeJS.Timeout | undefined;
  #slowdown = 1;
  #running: Promise<unknown> | undefined;
  #started = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #loggedErrors = new Set<string>();
  readonly #stats: InputStats = {
    runs: 0,
    errors: 0,
    skipped: 0,
    lastError: null,
    lastDurationMs: null,
    records: 0,
  };

  constructor(options: InputOptions) {
    if (!(options.intervalMs > 0))
      throw new RangeError(`intervalMs must be positive, got ${options.intervalMs}`);
    this.#intervalMs = options.intervalMs;
    this.#emit = options.emit;
    this.logger = options.logger;
  }

  /** One collection. Subclasses report partial failures with reportError() and return the rest. */
  protected abstract collect(): Promise<OutpostRecord[]>;

  /** Runs once before the first tick, e.g. to take the baseline a rate is computed against. */
  protected async prepare(): Promise<void> {}

  start(): void {
    if (this.#closed) throw inputClosed(this.name, 'start');
    if (this.#started) return;
    this.#started = true;
    this.#running = this.prepare()
      .catch((err: unknown) => this.reportError(err))
      .finally(() => {
        this.#running = undefined;
        if (this.#closed) return;
        this.#schedule();
      });
  }

  setSlowdown(factor: number): void {
    if (!(factor >= 1)) throw new RangeError(`slowdown factor must be >= 1, got ${factor}`);
    if (factor === this.#slowdown) return;
    this.#slowdown = factor;
    // Before the first tick is scheduled (prepare() still running) the new factor is picked up there.
    if (this.#timer !== undefined && !this.#closed) {
      clearInterval(this.#timer);
      this.#schedule();
    }
  }

  #schedule(): void {
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs * this.#slowdown);
    this.#timer.unref();
  }

  async collectOnce(): Promise<OutpostRecord[]> {
    if (this.#closed) throw inputClosed(this.name, 'collectOnce');
    while (this.#running !== undefined) await this.#running;
    if (this.#closed) throw inputClosed(this.name, 'collectOnce');
    const run = this.#run();
    this.#running = run;
    try {
      const result = await run;
      if (result.error !== undefined) throw result.error;
      return result.records;
    } finally {
      this.#running = undefined;
    }
  }

  stats(): InputStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    while (this.#running !== undefined) await this.#running;
  }

  #tick(): void {
    if (this.#running !== undefined) {
      this.#stats.skipped++;
      return;
    }
    this.#running = this.#run()
      .then(async ({ records, error }) => {
        if (error !== undefined || records.length === 0) return;
        // A sample refused by a full queue is not kept: the next tick takes a fresh one.
        await this.#emit(records);
      })
      .catch((err: unknown) => this.reportError(err))
      .finally(() => {
        this.#running = undefined;
      });
  }

  async #run(): Promise<{ records: OutpostRecord[]; error?: unknown }> {
    const started = performance.now();
    this.#stats.runs++;
    try {
      const records = await this.collect();
      this.#stats.records += records.length;
      return { records };
    } catch (error) {
      this.reportError(error);
      return { records: [], error };
    } finally {
      this.#stats.lastDurationMs = performance.now() - started;
    }
  }

  /** Counts a failure and logs it at warn the first time its message is seen, at debug after. */
  protected reportError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.#stats.errors++;
    this.#stats.lastError = message;
    if (this.#loggedErrors.has(message)) {
      this.logger.debug({ err, input: this.name }, 'input collection failed again');
      return;
    }
    if (this.#loggedErrors.size >= MAX_REMEMBERED_ERRORS) this.#loggedErrors.clear();
    this.#loggedErrors.add(message);
    this.logger.warn(
      { err, input: this.name },
      `input ${this.name}: collection failed: ${message} (logged once; see stats for the count)`,
    );
  }
}
