// Not `import ... from 'undici'`: its index (and, through it, Node's bundled undici) costs the
// idle collector several MB of RSS for one request() (docs/operations.md, Idle cost).
import { getGlobalDispatcher } from '@outpost/service/undici';

/** A delivery attempt's outcome as a value: the sender's loop reads like the retry policy. */
export type DeliveryResult =
  | { kind: 'success' }
  | { kind: 'retryable'; error: string; afterMs?: number | undefined }
  | { kind: 'failure'; error: string };

export interface HttpPost {
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
  timeoutMs: number;
}

/**
 * POSTs once. Network errors, timeouts, 408, 429 and 5xx are retryable (honouring Retry-After in
 * seconds); any other 4xx is permanent: the receiver refuses this body and resending cannot help.
 */
export async function post(message: HttpPost): Promise<DeliveryResult> {
  try {
    // What undici's request() does: the process-wide Agent, one connection pool per origin.
    const url = new URL(message.url);
    const res = await getGlobalDispatcher().request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: message.headers,
      body: message.body,
      headersTimeout: message.timeoutMs,
      bodyTimeout: message.timeoutMs,
    });
    const text = await res.body.text().catch(() => '');
    if (res.statusCode >= 200 && res.statusCode < 300) return { kind: 'success' };
    const error = `HTTP ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`;
    if (res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500) {
      const retryAfter = Number(res.headers['retry-after']);
      return {
        kind: 'retryable',
        error,
        afterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
      };
    }
    return { kind: 'failure', error };
  } catch (err) {
    return { kind: 'retryable', error: (err as Error).message || String(err) };
  }
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Exponential backoff with full jitter, capped; a server's Retry-After wins when longer. */
export function backoffMs(policy: BackoffPolicy, attempt: number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.max(policy.initialMs / 2, Math.random() * ceiling);
  return Math.round(Math.min(policy.maxMs, Math.max(jittered, retryAfterMs ?? 0)));
}
