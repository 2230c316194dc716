import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { PassRunner } from '../passes/index.ts';
import type { Store } from '../store/index.ts';
import { type Channel, channelSchema } from './channels.ts';
import { type BackoffPolicy, backoffMs, post } from './deliver.ts';
import { type AlertEvent, formatEvent } from './event.ts';

export interface NotificationSenderOptions {
  store: Store;
  logger: Logger;
  /** How often the outbox is checked when nothing wakes the sender. */
  pollMs?: number | undefined;
  backoff?: BackoffPolicy | undefined;
  /** After this many failed attempts a notification is marked failed (kept, visible in the API). */
  maxAttempts?: number | undefined;
  timeoutMs?: number | undefined;
  now?: () => number;
}

export interface NotifyStats {
  sent: number;
  failed: number;
  retried: number;
}

/**
 * Delivers the notification outbox. A row is marked delivered only after the receiver answered
 * 2xx, so a crash between the answer and the mark sends that one notification again on restart
 * (at least once, documented in docs/alerts.md); nothing queued is lost.
 */
export class NotificationSender {
  readonly stats: NotifyStats = { sent: 0, failed: 0, retried: 0 };
  readonly #options: NotificationSenderOptions;
  readonly #backoff: BackoffPolicy;
  readonly #passes: PassRunner;
  #closed = false;

  constructor(options: NotificationSenderOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? { initialMs: 1000, maxMs: 5 * 60_000 };
    this.#passes = new PassRunner({
      run: () => this.#pass(),
      intervalMs: options.pollMs ?? 1000,
      onError: (err) => options.logger.error({ err }, 'notification pass failed'),
    });
  }

  /** Runs a delivery pass now (or right after the one in progress). */
  wake(): void {
    this.#passes.request();
  }

  /** outpost_collector_notifications_total{result="sent"|"retried"|"failed"}. */
  registerMetrics(registry: Registry): void {
    const stats = this.stats;
    new Counter({
      name: 'outpost_collector_notifications_total',
      help: 'Notification delivery attempts by result (retried: will be tried again; failed: given up)',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        // The sender keeps the counts; the counter mirrors them at scrape time.
        this.reset();
        for (const result of ['sent', 'retried', 'failed'] as const) this.inc({ result }, stats[result]);
      },
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#passes.close();
  }

  async #pass(): Promise<void> {
    const { store, logger } = this.#options;
    const now = this.#options.now ?? Date.now;
    const due = await store.alerts.dueNotifications(now(), 100);
    if (due.length === 0) return;
    const channels = new Map<string, Channel>();
    for (const stored of await store.alerts.listChannels()) {
      const parsed = channelSchema.safeParse(stored.spec);
      if (parsed.success) channels.set(stored.id, parsed.data);
    }
    for (const item of due) {
      if (this.#closed) return;
      const channel = channels.get(item.channelId);
      if (!channel) {
        await store.alerts.markFailed(item.id, now(), `channel ${item.channelId} no longer exists`);
        this.stats.failed += 1;
        continue;
      }
      const result = await post({
        url: channel.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'outpost-collector',
          'idempotency-key': `outpost-notify-${item.id}`,
          ...channel.headers,
        },
        // The engine is the outbox's only writer and queues alertEvent() payloads.
        body: formatEvent(channel.type, item.payload as AlertEvent),
        timeoutMs: this.#options.timeoutMs ?? 10_000,
      });
      if (result.kind === 'success') {
        await store.alerts.markDelivered(item.id, now());
        this.stats.sent += 1;
        continue;
      }
      const attempts = item.attempts + 1;
      if (result.kind === 'failure' || attempts >= (this.#options.maxAttempts ?? 20)) {
        await store.alerts.markFailed(item.id, now(), result.error);
        this.stats.failed += 1;
        logger.error(
          { channel: channel.name, notification: item.id, attempts, error: result.error },
          'notification failed for good',
        );
        continue;
      }
      const delay = backoffMs(
        this.#backoff,
        attempts - 1,
        result.kind === 'retryable' ? result.afterMs : undefined,
      );
      await store.alerts.markRetry(item.id, now() + delay, result.error);
      this.stats.retried += 1;
      logger.warn(
        { channel: channel.name, notification: item.id, attempts, error: result.error, retryInMs: delay },
        'notification not delivered; will retry',
      );
    }
  }
}
