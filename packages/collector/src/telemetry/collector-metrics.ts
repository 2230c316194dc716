import { stat } from 'node:fs/promises';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { type AgentState, listAgentViews } from '../fleet/index.ts';
import type { Store } from '../store/index.ts';

export interface CollectorTelemetryOptions {
  store: Store;
  /** An agent whose last heartbeat is older than this counts as offline. */
  offlineAfterMs: number;
  /** The database file; its size (with its -wal) is exposed when given. */
  storageFile?: string | undefined;
  now?: () => number;
}

const PREFIX = 'outpost_collector_';

/**
 * The collector's self-metrics for GET /metrics, on a registry of its own. Counters move as
 * requests are handled; agent states and storage size are read at scrape time.
 */
export class CollectorTelemetry {
  readonly registry = new Registry();
  readonly #batches: Counter;
  readonly #records: Counter;
  readonly #duplicates: Counter;
  readonly #dedupHits: Counter;
  readonly #registrations: Counter;
  readonly #heartbeats: Counter;
  readonly #rejected: Counter<'route' | 'status'>;
  #processMetrics = false;

  constructor(options: CollectorTelemetryOptions) {
    const registers = [this.registry];
    const now = options.now ?? Date.now;
    this.#batches = new Counter({
      name: `${PREFIX}ingest_batches_total`,
      help: 'Data batches stored (a replayed batch is counted in dedup_hits_total instead)',
      registers,
    });
    this.#records = new Counter({
      name: `${PREFIX}ingest_records_total`,
      help: 'Records stored from agent batches',
      registers,
    });
    this.#duplicates = new Counter({
      name: `${PREFIX}ingest_duplicate_records_total`,
      help: 'Records skipped because the same agent sequence number was already stored under another batch key',
      registers,
    });
    this.#dedupHits = new Counter({
      name: `${PREFIX}dedup_hits_total`,
      help: 'Batches resent with an Idempotency-Key already stored: answered again, stored once',
      registers,
    });
    this.#registrations = new Counter({
      name: `${PREFIX}agent_registrations_total`,
      help: 'Agents registered with the enrollment token',
      registers,
    });
    this.#heartbeats = new Counter({
      name: `${PREFIX}heartbeats_total`,
      help: 'Heartbeats accepted from agents',
      registers,
    });
    this.#rejected = new Counter({
      name: `${PREFIX}http_rejected_total`,
      help: 'Requests answered with a 4xx or 5xx status, by route and status',
      labelNames: ['route', 'status'],
      registers,
    });
    new Gauge({
      name: `${PREFIX}agents`,
      help: 'Registered agents by state, as GET /api/v1/agents shows them (online, degraded, offline, revoked)',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts: Record<AgentState, number> = { online: 0, degraded: 0, offline: 0, revoked: 0 };
        const views = await listAgentViews(options.store, {
          offlineAfterMs: options.offlineAfterMs,
          now: now(),
        });
        for (const view of views) counts[view.state] += 1;
        // Every state every scrape: a state with no agents reads 0 rather than vanishing.
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    });
    const { storageFile } = options;
    if (storageFile !== undefined) {
      new Gauge({
        name: `${PREFIX}storage_bytes`,
        help: 'Size of the SQLite database file and its write-ahead log',
        registers,
        async collect() {
          const sizes = await Promise.all(
            [storageFile, `${storageFile}-wal`].map((file) =>
              stat(file).then(
                (s) => s.size,
                () => 0,
              ),
            ),
          );
          this.set(sizes.reduce((sum, n) => sum + n, 0));
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeIngest(result: { replayed: boolean; accepted: number; duplicates: number }): void {
    if (result.replayed) {
      this.#dedupHits.inc();
      return;
    }
    this.#batches.inc();
    this.#records.inc(result.accepted - result.duplicates);
    this.#duplicates.inc(result.duplicates);
  }

  observeRegistration(): void {
    this.#registrations.inc();
  }

  observeHeartbeat(): void {
    this.#heartbeats.inc();
  }

  /** `route` is the route pattern (e.g. /api/v1/agents/:id), never the raw URL, to bound the label set. */
  observeResponse(route: string, status: number): void {
    if (status >= 400) this.#rejected.inc({ route, status: String(status) });
  }

  async metrics(): Promise<string> {
    // Started at the first scrape, like the agent's: the event-loop monitor is not free.
    if (!this.#processMetrics) {
      this.#processMetrics = true;
      collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    }
    return this.registry.metrics();
  }
}
