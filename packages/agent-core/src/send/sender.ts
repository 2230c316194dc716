import type { Logger } from 'pino';
import {
  type Compression,
  type EncodedBatch,
  encodeBatch,
  releaseBody,
  type SendIdentity,
} from './encode.ts';
import { badSendOption, senderClosed } from './errors.ts';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.ts';
import { type BatchSource, type DeadLetterReason, recordCount, type SourceBatch } from './source.ts';
import type { SendResult, Transport } from './transport.ts';

/** What the sender keeps of a batch while its request is out. */
interface SentBatch {
  seq: number;
  records: number;
  bytes: number;
}

export interface SenderOptions {
  source: BatchSource;
  transport: Transport;
  /** Current credentials, or null before the agent has registered. */
  identity: () => SendIdentity | null;
  /** Renew credentials: called after a 401, and when identity() is null. */
  onUnauthorized: () => Promise<void>;
  batchMaxRecords: number;
  batchMaxBytes: number;
  /** How long the oldest pending record may wait for a batch to fill. */
  batchMaxWaitMs: number;
  compression: Compression;
  /** A policy shared with other callers (the fleet link's registration backoff), or its options. */
  retry?: RetryPolicy | RetryPolicyOptions;
  requestTimeoutMs: number;
  /**
   * Batches posted at the same time (default 1). Each holds its own lease and key, so acks may come
   * back in any order; more than one keeps the agent forming the next batch while the collector
   * stores the last one. The transport needs as many connections.
   */
  maxInFlight?: number;
  logger: Logger;
  now?: () => number;
}

export interface SenderError {
  at: number;
  message: string;
  status?: number;
  code?: string;
}

export interface SenderStats {
  batchesSent: number;
  recordsSent: number;
  /** Attempts that did not end in an acknowledgement (retryable, unauthorized or permanent). */
  batchesFailed: number;
  /** Attempts that resent a batch whose previous attempt failed. */
  retries: number;
  deadLettered: number;
  /** JSON bytes of acknowledged batches, before compression. */
  bytesRaw: number;
  /** Body bytes of acknowledged batches, as sent. */
  bytesSent: number;
  /** When the collector last acknowledged a batch. */
  lastSendAt: number | null;
  lastError: SenderError | null;
  /** Failed attempts since the last acknowledgement. */
  consecutiveFailures: number;
  nextRetryAt: number | null;
}

export interface FlushResult {
  /** Records acknowledged while the flush ran. */
  sent: number;
  /** Records still in the source when it returned. */
  remaining: number;
}

function positive(name: string, value: number, min: number, expected: string): number {
  if (typeof value !== 'number' || !(value >= min) || !Number.isFinite(value))
    throw badSendOption(name, value, expected);
  return value;
}

/**
 * Moves batches from the source to the collector, up to maxInFlight at a time. Each batch in flight
 * holds its own lease and Idempotency-Key, so the collector may store them in any order and a retry
 * can never be confused with another batch. After a failure no new batch starts until the backoff
 * (or Retry-After) has passed; a slow-down hint is a minimum delay between the starts of two sends.
 * A batch leaves the source only when the collector acknowledged it or refused it for good (dead
 * letter); any other outcome, including close() aborting the request, releases it to be sent again
 * with the same seq and Idempotency-Key.
 */
export class Sender {
  readonly #source: BatchSource;
  readonly #transport: Transport;
  readonly #identity: () => SendIdentity | null;
  readonly #onUnauthorized: () => Promise<void>;
  readonly #limits: { maxRecords: number; maxBytes: number };
  readonly #maxWaitMs: number;
  readonly #compression: Compression;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  readonly #log: Logger;
  readonly #now: () => number;

  /** Aborted by close() once the grace period is over: ends sleeps and the request in flight. */
  readonly #stop = new AbortController();
  #started = false;
  #listening = false;
  #flushes = 0;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  readonly #progress = new Set<() => void>();
  #closing: Promise<void> | null = null;

  /** Set when the source had nothing to lease; cleared by new records or a released batch. */
  #drained = false;
  readonly #inFlight = new Map<number, Promise<void>>();
  /** Records and bytes of the batches in flight: the source's depth and bytes count them too. */
  #inFlightRecords = 0;
  #inFlightBytes = 0;
  #renewing: Promise<void> | null = null;
  #pendingSince: number | null = null;
  #minIntervalMs: number | null = null;
  #lastAttemptAt: number | null = null;
  #lastFailedSeq: number | null = null;
  /** Drives the backoff window; unlike consecutiveFailures, a dead letter resets it. */
  #backoffAttempt = 0;
  #unauthorizedInARow = 0;
  /** Bodies of batches that may be retried: identical bytes under one key, even if labels changed. */
  readonly #encoded = new Map<number, { agentId: string; batch: EncodedBatch }>();

  readonly #stats: SenderStats = {
    batchesSent: 0,
    recordsSent: 0,
    batchesFailed: 0,
    retries: 0,
    deadLettered: 0,
    bytesRaw: 0,
    bytesSent: 0,
    lastSendAt: null,
    lastError: null,
    consecutiveFailures: 0,
    nextRetryAt: null,
  };

  readonly #onEnqueued = (): void => {
    this.#pendingSince ??= this.#now();
    this.#drained = false;
    this.#wake();
  };

  constructor(options: SenderOptions) {
    this.#source = options.source;
    this.#transport = options.transport;
    this.#identity = options.identity;
    this.#onUnauthorized = options.onUnauthorized;
    this.#limits = {
      maxRecords: Math.floor(
        positive('batchMaxRecords', options.batchMaxRecords, 1, 'a count of at least 1'),
      ),
      maxBytes: positive('batchMaxBytes', options.batchMaxBytes, 1, 'a size in bytes of at least 1'),
    };
    this.#maxWaitMs = positive('batchMaxWaitMs', options.batchMaxWaitMs, 0, 'a number of ms of at least 0');
    this.#timeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 1, 'a number of ms above 0');
    this.#maxInFlight = Math.floor(
      positive('maxInFlight', options.maxInFlight ?? 1, 1, 'a count of at least 1'),
    );
    if (options.compression !== 'zstd' && options.compression !== 'none') {
      throw badSendOption('compression', options.compression, '"zstd" or "none"');
    }
    this.#compression = options.compression;
    this.#policy = options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Starts the send loop. Calling it again while running does nothing. */
  start(): void {
    if (this.#closing) throw senderClosed('start');
    this.#started = true;
    this.#ensureLoop();
  }

  /** The collector's slow-down hint: at least this long between the starts of two sends. */
  setMinSendInterval(ms: number | null): void {
    if (this.#closing) throw senderClosed('setMinSendInterval');
    if (ms !== null) positive('minSendIntervalMs', ms, 0, 'a number of ms of at least 0, or null');
    this.#minIntervalMs = ms === null || ms === 0 ? null : ms;
    this.#wake();
  }

  /**
   * Sends everything the source holds, ignoring batchMaxWaitMs, until it is empty or the clock
   * reaches `deadlineMs` (a point in time, unix ms as `now()` counts them, not a duration).
   */
  flush(options: { deadlineMs: number }): Promise<FlushResult> {
    if (this.#closing) return Promise.reject(senderClosed('flush'));
    if (!Number.isFinite(options.deadlineMs)) {
      return Promise.reject(badSendOption('deadlineMs', options.deadlineMs, 'a point in time in unix ms'));
    }
    return this.#flush(options.deadlineMs);
  }

  /**
   * Stops taking new work, sends what is pending for up to graceMs, then aborts the request in
   * flight (its batch goes back to the source) and closes the transport. Returns the same promise
   * when called again. stats() keeps answering afterwards, for the final status report.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceMs ?? 0);
    return this.#closing;
  }

  stats(): SenderStats {
    return { ...this.#stats, lastError: this.#stats.lastError ? { ...this.#stats.lastError } : null };
  }

  async #close(graceMs: number): Promise<void> {
    if (graceMs > 0) await this.#flush(this.#now() + graceMs);
    this.#stop.abort();
    await this.#loop;
    this.#started = false;
    if (this.#listening) this.#source.off('enqueued', this.#onEnqueued);
    this.#listening = false;
    try {
      await this.#transport.close();
    } catch (err) {
      this.#log.warn({ err }, 'sender: closing the HTTP transport failed');
    }
  }

  async #flush(deadline: number): Promise<FlushResult> {
    const sentBefore = this.#stats.recordsSent;
    this.#flushes += 1;
    this.#drained = false;
    this.#ensureLoop();
    this.#wake();
    try {
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer);
          this.#progress.delete(check);
          resolve();
        };
        const check = (): void => {
          if ((this.#drained && this.#inFlight.size === 0) || this.#stop.signal.aborted) finish();
        };
        // Not unref'd: the caller awaits this flush (often the last thing before exit), and the
        // wait is bounded by its own deadline.
        const timer = setTimeout(finish, Math.max(0, deadline - this.#now()));
        this.#progress.add(check);
      });
    } finally {
      this.#flushes -= 1;
    }
    return { sent: this.#stats.recordsSent - sentBefore, remaining: this.#depth() };
  }

  #depth(): number {
    try {
      return this.#source.stats().depth;
    } catch {
      return Number.NaN;
    }
  }

  #ensureLoop(): void {
    if (!this.#listening) {
      this.#source.on('enqueued', this.#onEnqueued);
      this.#listening = true;
    }
    this.#loop ??= this.#run().finally(() => {
      this.#loop = null;
      this.#notifyProgress();
    });
  }

  #wake(): void {
    this.#wakeUp?.();
  }

  #notifyProgress(): void {
    for (const check of [...this.#progress]) check();
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted && (this.#started || this.#flushes > 0)) {
      let wait: number | null;
      try {
        wait = this.#plan();
        if (wait === 0) {
          if (this.#identity() === null) {
            await this.#renewCredentials('the agent has no credentials yet');
            if (this.#identity() === null) this.#scheduleRetry();
          } else {
            this.#startSend();
          }
        }
      } catch (err) {
        // The source itself failed (disk full, closed under us): note it and back off rather than spin.
        wait = this.#queueFailed(err);
      }
      this.#notifyProgress();
      if (wait !== 0 && !this.#stop.signal.aborted) await this.#sleep(wait);
    }
    // Aborted sends settle quickly (their batches are released); a finished flush lets the rest end.
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  #queueFailed(err: unknown): number {
    const message = `sender: the queue failed: ${(err as Error).message}`;
    this.#noteError({ message });
    this.#log.error({ err }, message);
    return this.#scheduleRetry();
  }

  /** 0 to send now, a number of ms to wait, or null to wait for new records or a send to end. */
  #plan(): number | null {
    if (this.#inFlight.size >= this.#maxInFlight) return null;
    // Set when the last look found nothing leasable; new records, a release or a flush clear it.
    if (this.#drained) return null;
    const now = this.#now();
    const s = this.#source.stats();
    if (s.depth === 0) {
      this.#pendingSince = null;
      this.#drained = true;
      return null;
    }
    const retryAt = this.#stats.nextRetryAt;
    if (retryAt !== null && retryAt > now) return retryAt - now;
    this.#pendingSince ??= now;
    const waiting = s.depth - this.#inFlightRecords;
    if (waiting <= 0 && s.batches <= s.leased) {
      // Everything stored is in flight: the next news is an ack, a release or new records.
      this.#drained = true;
      return null;
    }
    if (
      !(
        this.#flushes > 0 ||
        s.batches > s.leased ||
        waiting >= this.#limits.maxRecords ||
        s.bytes - this.#inFlightBytes >= this.#limits.maxBytes
      )
    ) {
      // oldestTs is when the oldest record was enqueued, possibly before a restart.
      const since = Math.min(this.#pendingSince, s.oldestTs ?? this.#pendingSince);
      const ripeIn = since + this.#maxWaitMs - now;
      if (ripeIn > 0) return ripeIn;
    }
    if (this.#minIntervalMs !== null && this.#lastAttemptAt !== null) {
      const paceIn = this.#lastAttemptAt + this.#minIntervalMs - now;
      if (paceIn > 0) return paceIn;
    }
    return 0;
  }

  /** Leases and encodes the next batch and posts it without waiting for the answer. */
  #startSend(): void {
    const identity = this.#identity()!;
    const batch = this.#source.lease(this.#limits);
    if (batch === null) {
      // Records are counted but none can be leased (other leases hold them): wait for news.
      this.#drained = true;
      return;
    }
    // Once encoded, the body says it all: holding the leased batch (its records' JSON, about 1 MB
    // for 2000 records) until the collector answers kept max_in_flight of them alive for nothing.
    const sent: SentBatch = { seq: batch.seq, records: recordCount(batch), bytes: batch.bytes };
    let encoded: EncodedBatch;
    try {
      encoded = this.#encode(batch, identity);
    } catch (err) {
      // Resending the same records cannot encode any better; holding the batch would stop the queue.
      this.#deadLetter(sent, {
        code: 'E_SEND_ENCODE',
        message: `batch ${batch.seq} cannot be encoded: ${(err as Error).message}`,
      });
      return;
    } finally {
      // The body holds the records now (or they cannot be sent): their stored bytes are freed
      // without waiting for a garbage collection.
      batch.stored?.release?.();
    }
    if (this.#lastFailedSeq === batch.seq || (batch.attempts ?? 0) > 0) this.#stats.retries += 1;
    this.#lastAttemptAt = this.#now();
    this.#stats.nextRetryAt = null;
    this.#inFlightRecords += sent.records;
    this.#inFlightBytes += sent.bytes;
    const delivery = this.#deliver(sent, encoded, identity).finally(() => {
      this.#inFlight.delete(sent.seq);
      this.#inFlightRecords -= sent.records;
      this.#inFlightBytes -= sent.bytes;
      this.#wake();
      this.#notifyProgress();
    });
    this.#inFlight.set(sent.seq, delivery);
  }

  async #deliver(batch: SentBatch, encoded: EncodedBatch, identity: SendIdentity): Promise<void> {
    let result: SendResult;
    try {
      result = await this.#transport.send(
        { ...encoded, credentials: { agentId: identity.agentId, secret: identity.secret } },
        { signal: this.#stop.signal, timeoutMs: this.#timeoutMs },
      );
    } catch (err) {
      result = { type: 'retryable', reason: `transport failed: ${(err as Error).message}` };
    }
    try {
      this.#settle(batch, encoded, result, identity);
    } catch (err) {
      // ack/deadLetter failed: hand the batch back so it is not stuck leased; a resend after an
      // acknowledged post is answered from the collector's idempotency store.
      try {
        this.#source.release(batch.seq);
        this.#drained = false;
      } catch {
        // The source is gone; its lease returns to pending when it is opened again.
      }
      this.#queueFailed(err);
      return;
    }
    const stale = this.#identity()?.secret !== identity.secret;
    if (result.type === 'unauthorized' && !stale && !this.#stop.signal.aborted) {
      await this.#renewCredentials(`the collector answered ${result.status} to batch ${batch.seq}`);
    }
  }

  #encode(batch: SourceBatch, identity: SendIdentity): EncodedBatch {
    const cached = this.#encoded.get(batch.seq);
    if (cached && cached.agentId === identity.agentId) return cached.batch;
    const encoded = encodeBatch(batch, identity, { compression: this.#compression });
    // Released batches are leased again before new ones form, so only the few last sent are kept.
    if (this.#encoded.size >= this.#maxInFlight * 2) {
      this.#encoded.delete(this.#encoded.keys().next().value as number);
    }
    this.#encoded.set(batch.seq, { agentId: identity.agentId, batch: encoded });
    return encoded;
  }

  /** Applies one outcome to the source and the stats; the batch is never left leased. */
  #settle(batch: SentBatch, encoded: EncodedBatch, result: SendResult, identity: SendIdentity): void {
    const seq = batch.seq;
    const now = this.#now();
    switch (result.type) {
      case 'success': {
        this.#source.ack(seq);
        this.#encoded.delete(seq);
        this.#lastFailedSeq = null;
        this.#backoffAttempt = 0;
        this.#unauthorizedInARow = 0;
        this.#pendingSince = null;
        Object.assign(this.#stats, {
          batchesSent: this.#stats.batchesSent + 1,
          recordsSent: this.#stats.recordsSent + batch.records,
          bytesRaw: this.#stats.bytesRaw + encoded.rawBytes,
          bytesSent: this.#stats.bytesSent + encoded.body.length,
          lastSendAt: now,
          consecutiveFailures: 0,
        });
        this.#log.debug(
          {
            batchSeq: seq,
            records: batch.records,
            bytes: encoded.body.length,
            status: result.status,
          },
          'sender: batch acknowledged',
        );
        // The collector read the whole body before answering, so nothing sends from it any more.
        releaseBody(encoded);
        return;
      }
      case 'permanent': {
        this.#deadLetter(
          batch,
          result.status === 409
            ? seqConflict(seq, encoded.idempotencyKey, result)
            : { code: result.code, message: result.message, status: result.status },
        );
        return;
      }
      case 'unauthorized': {
        this.#source.release(seq);
        this.#drained = false;
        // Batches sent with the old secret before a renewal come back 401 too: not a new failure.
        if (this.#identity()?.secret !== identity.secret) return;
        this.#lastFailedSeq = seq;
        this.#unauthorizedInARow += 1;
        this.#failedAttempt({
          message: `the collector refused the agent's credentials (${result.status})`,
          status: result.status,
        });
        // The first 401 renews and retries at once; a second in a row means renewal did not help.
        if (this.#unauthorizedInARow > 1) this.#scheduleRetry();
        return;
      }
      case 'retryable': {
        this.#source.release(seq);
        this.#drained = false;
        if (this.#stop.signal.aborted) {
          this.#log.info(
            { batchSeq: seq },
            `sender: shutting down; batch ${seq} stays queued for the next start`,
          );
          return;
        }
        this.#lastFailedSeq = seq;
        this.#failedAttempt({
          message: result.reason,
          ...(result.status === undefined ? {} : { status: result.status }),
        });
        const delay = this.#scheduleRetry(result.retryAfterMs);
        this.#log.warn(
          { batchSeq: seq, status: result.status, attempt: this.#backoffAttempt, retryInMs: delay },
          `sender: batch ${seq} not delivered (${result.reason}); retrying in ${delay} ms`,
        );
        return;
      }
    }
  }

  #deadLetter(batch: SentBatch, reason: DeadLetterReason): void {
    this.#source.deadLetter(batch.seq, reason);
    this.#encoded.delete(batch.seq);
    this.#lastFailedSeq = null;
    this.#backoffAttempt = 0;
    this.#stats.deadLettered += 1;
    this.#failedAttempt(reason);
    const status = reason.status === undefined ? '' : `${reason.status} `;
    this.#log.error(
      { batchSeq: batch.seq, records: batch.records, status: reason.status, code: reason.code },
      `sender: batch ${batch.seq} refused for good (${status}${reason.code}: ${reason.message}); its ${batch.records} records are in the queue's dead-letter table`,
    );
  }

  /** An attempt to deliver a batch that did not end in an acknowledgement. */
  #failedAttempt(error: Omit<SenderError, 'at'>): void {
    this.#stats.batchesFailed += 1;
    this.#stats.consecutiveFailures += 1;
    this.#noteError(error);
  }

  #noteError(error: Omit<SenderError, 'at'>): void {
    this.#stats.lastError = { at: this.#now(), ...error };
  }

  #scheduleRetry(retryAfterMs?: number): number {
    this.#backoffAttempt += 1;
    const delay = this.#policy.delayFor(this.#backoffAttempt, retryAfterMs);
    this.#stats.nextRetryAt = this.#now() + delay;
    return delay;
  }

  /** One renewal at a time: batches in flight that all come back 401 share it. */
  #renewCredentials(why: string): Promise<void> {
    this.#renewing ??= this.#renew(why).finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  async #renew(why: string): Promise<void> {
    this.#log.info(`sender: ${why}; renewing credentials`);
    const signal = this.#stop.signal;
    let onAbort = (): void => {};
    const stopped = new Promise<void>((resolve) => {
      onAbort = resolve;
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([this.#onUnauthorized(), stopped]);
    } catch (err) {
      this.#noteError({ message: `renewing credentials failed: ${(err as Error).message}` });
      this.#log.warn({ err }, 'sender: renewing credentials failed; retrying later');
      this.#scheduleRetry();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #sleep(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#wakeUp = null;
        this.#stop.signal.removeEventListener('abort', done);
        resolve();
      };
      this.#wakeUp = done;
      this.#stop.signal.addEventListener('abort', done, { once: true });
      if (ms !== null) {
        timer = setTimeout(done, ms);
        timer.unref();
      }
    });
  }
}

/**
 * 409: the collector holds another body under this batch's key, so this agent numbered two
 * different batches alike — its queue file was lost, replaced or restored from a backup. Resending
 * cannot help; the records are kept, and a dead-letter retry sends them under a new batch seq.
 */
function seqConflict(
  seq: number,
  key: string,
  result: { status: number; code: string; message: string },
): DeadLetterReason {
  return {
    code: result.code,
    status: result.status,
    message:
      `the collector already stored a different batch under Idempotency-Key ${key}: batch seq ${seq} ` +
      'was used twice by this agent (its queue file was lost, replaced or restored from a backup). ' +
      `Nothing of this batch was stored; \`agentctl queue dead-letter retry ${seq}\` sends it again under a new batch seq`,
  };
}
