import type { Logger } from 'pino';
import type { SinkConfig } from '../config/index.ts';
import { backoffMs, type DeliveryResult, post } from '../notify/index.ts';
import type { Store, StoredAgent, StoredRecord } from '../store/index.ts';
import { toNdjson, toOtlpLogs, toOtlpMetrics } from './encode.ts';

export interface SinkStats {
  sent: number;
  failed: number;
  batches: number;
  lastError: string | null;
}

export const cursorName = (sink: string) => `forward:${sink}`;

/**
 * Ships every stored record to one sink, in records.id order, from a cursor kept in the store. The
 * cursor moves only after the sink answered 2xx for the whole batch, so a restart resumes after the
 * last acknowledged batch: a crash between the answer and the cursor write resends that one batch
 * (at least once; its Idempotency-Key is the same both times, so a sink can drop the repeat).
 */
export class SinkForwarder {
  readonly sink: SinkConfig;
  readonly stats: SinkStats = { sent: 0, failed: 0, batches: 0, lastError: null };
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #pollMs: number;
  #wake: (() => void) | undefined;
  #closing = false;
  #loop: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #agents = new Map<string, StoredAgent>();

  constructor(options: { sink: SinkConfig; store: Store; logger: Logger; pollMs?: number | undefined }) {
    this.sink = options.sink;
    this.#store = options.store;
    this.#logger = options.logger.child({ sink: options.sink.name });
    this.#pollMs = options.pollMs ?? 1000;
  }

  start(): void {
    this.#loop ??= this.#run().catch((err: unknown) => {
      if (!this.#closing) this.#logger.error({ err }, 'forwarding stopped');
    });
  }

  /** New records were stored: skip the rest of the idle wait (never the backoff after a failure). */
  wake(): void {
    this.#wake?.();
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      this.#wake?.();
      await this.#loop;
    })();
    return this.#closed;
  }

  async lag(): Promise<number> {
    const [max, cursor] = await Promise.all([
      this.#store.alerts.maxRecordId(),
      this.#store.alerts.getCursor(cursorName(this.sink.name)),
    ]);
    return Math.max(0, max - cursor);
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closing) {
      const cursor = await this.#store.alerts.getCursor(cursorName(this.sink.name));
      const records = await this.#store.alerts.readRecordsAfter(cursor, this.sink.batchSize);
      const last = records.at(-1);
      if (!last) {
        await this.#sleep(this.#pollMs, true);
        continue;
      }
      const wanted = records.filter((r) => this.sink.kinds.includes(r.kind));
      const result =
        wanted.length === 0 ? ({ kind: 'success' } as const) : await this.#send(wanted, cursor, last.id);
      if (result.kind === 'success') {
        await this.#store.alerts.setCursor(cursorName(this.sink.name), last.id, Date.now());
        this.stats.sent += wanted.length;
        this.stats.batches += 1;
        this.stats.lastError = null;
        if (failures > 0) this.#logger.info({ after: failures }, 'sink reachable again');
        failures = 0;
        continue;
      }
      // A refused batch (4xx) is retried too, with the same backoff: forwarding never skips data,
      // and the error stays in the log and in the failed counter until the sink is fixed.
      this.stats.failed += 1;
      this.stats.lastError = result.error;
      const delay = backoffMs(
        { initialMs: this.sink.initialBackoffMs, maxMs: this.sink.maxBackoffMs },
        failures,
        result.kind === 'retryable' ? result.afterMs : undefined,
      );
      failures += 1;
      const log =
        result.kind === 'failure'
          ? this.#logger.error.bind(this.#logger)
          : this.#logger.warn.bind(this.#logger);
      log(
        { error: result.error, attempt: failures, retryInMs: Math.round(delay) },
        'forwarding batch failed; will retry',
      );
      await this.#sleep(delay, false);
    }
  }

  async #send(records: StoredRecord[], after: number, lastId: number): Promise<DeliveryResult> {
    await this.#refreshAgents(records);
    const key = `outpost-${this.sink.name}-${after + 1}-${lastId}`;
    const headers = { 'user-agent': 'outpost-collector', ...this.sink.headers };
    if (this.sink.type === 'http') {
      return post({
        url: this.sink.url,
        headers: { ...headers, 'content-type': 'application/x-ndjson', 'idempotency-key': key },
        body: toNdjson(records, this.#agents),
        timeoutMs: this.sink.timeoutMs,
      });
    }
    const base = this.sink.url.replace(/\/+$/, '');
    const json = { ...headers, 'content-type': 'application/json' };
    if (records.some((r) => r.kind === 'metric')) {
      const result = await post({
        url: `${base}/v1/metrics`,
        headers: { ...json, 'idempotency-key': `${key}-metrics` },
        body: JSON.stringify(toOtlpMetrics(records, this.#agents)),
        timeoutMs: this.sink.timeoutMs,
      });
      if (result.kind !== 'success') return result;
    }
    if (records.some((r) => r.kind !== 'metric')) {
      return post({
        url: `${base}/v1/logs`,
        headers: { ...json, 'idempotency-key': `${key}-logs` },
        body: JSON.stringify(toOtlpLogs(records, this.#agents)),
        timeoutMs: this.sink.timeoutMs,
      });
    }
    return { kind: 'success' };
  }

  async #refreshAgents(records: StoredRecord[]): Promise<void> {
    if (records.every((r) => this.#agents.has(r.agentId))) return;
    this.#agents = new Map((await this.#store.listAgents()).map((a) => [a.id, a]));
  }

  #sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        if (wakeable || this.#closing) done();
      };
    });
  }
}
