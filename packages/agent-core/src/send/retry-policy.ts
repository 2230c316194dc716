import { badSendOption } from './errors.ts';

export interface RetryPolicyOptions {
  /** Upper bound of the first backoff window. */
  initialBackoffMs?: number;
  /** Cap on the backoff window, however many attempts failed. */
  maxBackoffMs?: number;
  /** Growth of the window per failed attempt. */
  multiplier?: number;
  /** Cap on a collector's Retry-After, so a bad proxy cannot park the agent for days. */
  maxRetryAfterMs?: number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

export const DEFAULT_RETRY: Required<Omit<RetryPolicyOptions, 'random'>> = {
  initialBackoffMs: 500,
  maxBackoffMs: 60_000,
  multiplier: 2,
  maxRetryAfterMs: 300_000,
};

/** How the sender treats an HTTP status from the collector. */
export type StatusClass = 'success' | 'retryable' | 'permanent' | 'unauthorized';

/**
 * Maps a status to the sender's action, per docs/protocol.md.
 * - 2xx: acknowledged.
 * - 401: our credentials are unknown (collector data dir reset, agent deleted); renew them and retry.
 *   Never dead-letter on 401: the batch is fine, only the key to the door changed.
 * - 408, 429: retryable by definition.
 * - other 4xx: the batch itself is refused (bad body, too large, conflict): retrying cannot help,
 *   so it goes to the dead-letter table.
 * - 5xx, including 500: a collector that crashes or restarts mid-request answers 500 (or the proxy
 *   answers 502/503/504), and the same batch succeeds once it is back; dead-lettering on 500 would
 *   turn every collector bug into data moved aside.
 * - anything else (3xx, 1xx): the request never reached the collector's data route (a proxy
 *   redirect, a wrong URL); that is a deployment fault, not a bad batch, so keep the batch and retry.
 */
export function classify(status: number): StatusClass {
  if (status >= 200 && status < 300) return 'success';
  if (status === 401) return 'unauthorized';
  if (status === 408 || status === 429) return 'retryable';
  if (status >= 400 && status < 500) return 'permanent';
  return 'retryable';
}

/**
 * Reads Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `now`.
 * Returns undefined when absent or unreadable, so the caller falls back to its own backoff.
 */
export function parseRetryAfter(
  header: string | readonly string[] | null | undefined,
  now: number,
  maxRetryAfterMs: number = Number.POSITIVE_INFINITY,
): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (typeof raw !== 'string') return undefined;
  const value = raw.trim();
  if (value === '') return undefined;
  let ms: number;
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000;
  } else {
    // An HTTP date always names its month; without this, Date.parse reads "-5" or "1.5" as years.
    if (!/[a-z]{3}/i.test(value)) return undefined;
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, maxRetryAfterMs);
}

/** Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export class RetryPolicy {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
  readonly maxRetryAfterMs: number;
  readonly #random: () => number;

  constructor(options: RetryPolicyOptions = {}) {
    this.initialBackoffMs = options.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs;
    this.maxBackoffMs = options.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs;
    this.multiplier = options.multiplier ?? DEFAULT_RETRY.multiplier;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs;
    this.#random = options.random ?? Math.random;
    if (!(this.initialBackoffMs > 0)) {
      throw badSendOption('retry.initialBackoffMs', this.initialBackoffMs, 'a number of ms above 0');
    }
    if (!(this.maxBackoffMs >= this.initialBackoffMs)) {
      throw badSendOption(
        'retry.maxBackoffMs',
        this.maxBackoffMs,
        `at least initialBackoffMs (${this.initialBackoffMs})`,
      );
    }
    if (!(this.multiplier >= 1))
      throw badSendOption('retry.multiplier', this.multiplier, 'a number of at least 1');
    if (!(this.maxRetryAfterMs >= 0)) {
      throw badSendOption('retry.maxRetryAfterMs', this.maxRetryAfterMs, 'a number of ms of at least 0');
    }
  }

  /**
   * Delay before the next attempt after `attempt` consecutive failures (1 = first failure).
   * A Retry-After from the collector wins over the computed backoff, capped: the collector knows
   * when it will be back, and every agent of a fleet honouring it is what lets it recover.
   */
  delayFor(attempt: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
      return Math.min(retryAfterMs, this.maxRetryAfterMs);
    }
    const exponent = Math.max(0, Math.floor(attempt) - 1);
    const window = Math.min(this.maxBackoffMs, this.initialBackoffMs * this.multiplier ** exponent);
    return Math.floor(this.#random() * window);
  }

  /** parseRetryAfter with this policy's cap. */
  parseRetryAfter(header: string | readonly string[] | null | undefined, now: number): number | undefined {
    return parseRetryAfter(header, now, this.maxRetryAfterMs);
  }
}
