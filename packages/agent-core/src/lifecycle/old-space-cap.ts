import {
  constants,
  type PerformanceEntry,
  PerformanceObserver,
  type PerformanceObserverEntryList,
} from 'node:perf_hooks';
import v8 from 'node:v8';
import { type GcFunction, v8Gc } from './v8-gc.ts';

export interface OldSpaceCapOptions {
  /**
   * Growth of the old space above its lowest level since the last major collection that asks V8
   * for one. Default 12 MiB (bench/logs-e2e.bench.ts: see docs/operations.md, "Memory under load").
   */
  growthBytes?: number;
}

export interface OldSpaceCapStats {
  /** Major collections this cap asked for. */
  collections: number;
  /** Old-space bytes those collections freed. */
  freedBytes: number;
  lastCollectionAt: number | null;
  /** The level growth is measured from: the lowest old-space size since the last major collection. */
  floorBytes: number;
}

/** A 'gc' entry: @types/node leaves `detail` off PerformanceEntry. */
type GcEntry = PerformanceEntry & { detail: { kind: number } };

function oldSpaceUsed(): number {
  for (const space of v8.getHeapSpaceStatistics()) {
    if (space.space_name === 'old_space') return space.space_used_size;
  }
  return 0;
}

/**
 * Keeps the old generation from climbing under load. At 100k log lines/s about 1.6 MB/s survives
 * into the old space, which V8 first collects at 40-50 MB; the pages it grew to stay with the
 * process, so RSS stays near that peak. Collecting once the old space has grown a fixed amount
 * above its floor holds it (and RSS) 20-30 MB lower for no CPU per line the benches could tell
 * from their noise (docs/operations.md, "Memory under load").
 *
 * It looks after each garbage collection (a perf_hooks observer) rather than on a timer: the old
 * space grows mostly when a scavenge promotes young objects, and an idle daemon, which barely
 * collects, is not woken at all. The collection runs as a task of its own (`execution: 'async'`),
 * not inside the observer's callback, and the floor is the level after it, so a large live old
 * space raises the floor instead of asking again and again.
 */
export class OldSpaceCap {
  readonly #growthBytes: number;
  readonly #gc: GcFunction;
  #observer: PerformanceObserver | undefined;
  #collecting: Promise<void> | null = null;
  readonly #stats: OldSpaceCapStats = {
    collections: 0,
    freedBytes: 0,
    lastCollectionAt: null,
    floorBytes: 0,
  };

  constructor(options: OldSpaceCapOptions = {}) {
    this.#growthBytes = options.growthBytes ?? 12 * 1024 * 1024;
    this.#gc = v8Gc();
  }

  start(): void {
    if (this.#observer !== undefined) return;
    this.#stats.floorBytes = oldSpaceUsed();
    this.#observer = new PerformanceObserver((list) => this.#afterGc(list));
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  #afterGc(list: PerformanceObserverEntryList): void {
    const used = oldSpaceUsed();
    const major = list
      .getEntries()
      .some((entry) => (entry as GcEntry).detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    // After a major collection (V8's own or ours) the old space holds what is live: the new floor.
    this.#stats.floorBytes = major ? used : Math.min(this.#stats.floorBytes, used);
    if (this.#collecting === null && used - this.#stats.floorBytes >= this.#growthBytes) void this.collect();
  }

  /** One major collection in a task of its own; resolves once it ran. Joins one already asked for. */
  collect(): Promise<void> {
    this.#collecting ??= (async () => {
      const before = oldSpaceUsed();
      try {
        await this.#gc({ type: 'major', execution: 'async' });
      } finally {
        const after = oldSpaceUsed();
        this.#stats.floorBytes = after;
        this.#stats.collections++;
        this.#stats.freedBytes += Math.max(0, before - after);
        this.#stats.lastCollectionAt = Date.now();
        this.#collecting = null;
      }
    })();
    return this.#collecting;
  }

  stats(): OldSpaceCapStats {
    return { ...this.#stats };
  }

  /** Stops looking and waits for a collection in progress; safe to call twice. */
  async close(): Promise<void> {
    this.#observer?.disconnect();
    this.#observer = undefined;
    await this.#collecting;
  }
}
