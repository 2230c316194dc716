import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';

export interface RetentionOptions {
  store: Store;
  logger: Logger;
  rawMs: number;
  rollupsMs: number;
  intervalMs: number;
  /** Cursors (forwarding sinks, edge alerts) whose records must stay until they moved past. */
  holdCursors: () => string[];
  /** Rows per statement: small chunks keep each write transaction short for ingest. */
  chunk?: number | undefined;
  now?: () => number;
}

export interface SweepResult {
  rolledUp: number;
  deletedRecords: number;
  deletedRollups: number;
  freePages: number;
}

const MAX_CHUNKS_PER_SWEEP = 50;

/**
 * Rolls raw metric records up into hourly min/max/avg/count, then deletes raw records older than
 * `rawMs` (only those already rolled up and already forwarded) and rollups older than `rollupsMs`,
 * in small chunks. New records reuse the freed pages; a file made with incremental auto-vacuum (by
 * versions before 16 KB pages) also hands them back to the file system (docs/alerts.md, "Bounded file").
 */
export class Retention {
  readonly #options: RetentionOptions;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<unknown> | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: RetentionOptions) {
    this.#options = options;
    this.#timer = setInterval(() => {
      this.#running ??= this.sweep()
        .catch((err: unknown) => {
          if (!this.#closed) options.logger.error({ err }, 'retention sweep failed');
        })
        .finally(() => {
          this.#running = undefined;
        });
    }, options.intervalMs);
    this.#timer.unref();
  }

  async sweep(): Promise<SweepResult> {
    const { store } = this.#options;
    const chunk = this.#options.chunk ?? 2000;
    const now = (this.#options.now ?? Date.now)();
    const result: SweepResult = { rolledUp: 0, deletedRecords: 0, deletedRollups: 0, freePages: 0 };
    result.rolledUp = await this.#inChunks(chunk, () => store.alerts.rollupNext(chunk));
    let upTo = Number.MAX_SAFE_INTEGER;
    for (const name of this.#options.holdCursors()) upTo = Math.min(upTo, await store.alerts.getCursor(name));
    result.deletedRecords = await this.#inChunks(chunk, () =>
      store.alerts.deleteRecordsBefore(now - this.#options.rawMs, upTo, chunk),
    );
    result.deletedRollups = await this.#inChunks(chunk, () =>
      store.alerts.deleteRollupsBefore(now - this.#options.rollupsMs, chunk),
    );
    if (result.deletedRecords + result.deletedRollups > 0)
      result.freePages = await store.alerts.reclaimSpace(4096);
    if (result.deletedRecords > 0 || result.deletedRollups > 0) {
      this.#options.logger.info(result, 'retention sweep');
    }
    return result;
  }

  /**
   * Repeats `step` (which handles up to `chunk` rows and returns how many) until a step comes up
   * short: small transactions keep ingest waiting only briefly. Bounded per sweep, and stops at close().
   */
  async #inChunks(chunk: number, step: () => Promise<number>): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_CHUNKS_PER_SWEEP && !this.#closed; i++) {
      const n = await step();
      total += n;
      if (n < chunk) break;
    }
    return total;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      await this.#running;
    })();
    return this.#closed;
  }
}
