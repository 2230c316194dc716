import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SinkConfig } from '../config/index.ts';
import type { Store } from '../store/index.ts';
import { cursorName, SinkForwarder } from './forwarder.ts';

/** All configured sinks, each with its own forwarder, cursor and self-metrics. */
export class Forwarding {
  readonly forwarders: SinkForwarder[];
  #closed: Promise<void> | undefined;

  constructor(options: {
    sinks: readonly SinkConfig[];
    store: Store;
    logger: Logger;
    pollMs?: number | undefined;
  }) {
    this.forwarders = options.sinks.map(
      (sink) =>
        new SinkForwarder({ sink, store: options.store, logger: options.logger, pollMs: options.pollMs }),
    );
  }

  /** The cursor names retention must not delete past. */
  get cursorNames(): string[] {
    return this.forwarders.map((f) => cursorName(f.sink.name));
  }

  start(): void {
    for (const f of this.forwarders) f.start();
  }

  wake(): void {
    for (const f of this.forwarders) f.wake();
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all(this.forwarders.map((f) => f.close())).then(() => {});
    return this.#closed;
  }

  /** outpost_collector_forward_{lag_records,sent_records_total,failed_requests_total}{sink}. */
  registerMetrics(registry: Registry): void {
    if (this.forwarders.length === 0) return;
    const forwarders = this.forwarders;
    const registers = [registry];
    new Gauge({
      name: 'outpost_collector_forward_lag_records',
      help: 'Records stored but not yet acknowledged by the sink',
      labelNames: ['sink'],
      registers,
      async collect() {
        for (const f of forwarders) this.set({ sink: f.sink.name }, await f.lag());
      },
    });
    new Counter({
      name: 'outpost_collector_forward_sent_records_total',
      help: 'Records the sink acknowledged with a 2xx',
      labelNames: ['sink'],
      registers,
      collect() {
        // The forwarders keep the counts; the counter mirrors them at scrape time.
        this.reset();
        for (const f of forwarders) this.inc({ sink: f.sink.name }, f.stats.sent);
      },
    });
    new Counter({
      name: 'outpost_collector_forward_failed_requests_total',
      help: 'Batches the sink did not acknowledge (network error, timeout or non-2xx); each is retried',
      labelNames: ['sink'],
      registers,
      collect() {
        // The forwarders keep the counts; the counter mirrors them at scrape time.
        this.reset();
        for (const f of forwarders) this.inc({ sink: f.sink.name }, f.stats.failed);
      },
    });
  }
}
