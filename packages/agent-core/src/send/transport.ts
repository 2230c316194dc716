import type { Logger } from 'pino';
import { Pool } from '../undici/index.ts';
import { badCollectorUrl, transportClosed } from './errors.ts';
import { classify, parseRetryAfter } from './retry-policy.ts';

/** One POST /api/v1/agent/data, already encoded. */
export interface SendRequest {
  body: Buffer;
  contentEncoding: 'zstd' | 'identity';
  idempotencyKey: string;
  credentials: { agentId: string; secret: string };
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Whole request, connect to last byte of the answer. */
  timeoutMs: number;
}

/** Every outcome is a value, so the sender's loop reads as the retry policy it implements. */
export type SendResult =
  | { type: 'success'; status: number; body: unknown }
  | { type: 'retryable'; reason: string; status?: number; retryAfterMs?: number }
  | { type: 'permanent'; status: number; code: string; message: string }
  | { type: 'unauthorized'; status: number };

export interface Transport {
  send(request: SendRequest, options: SendOptions): Promise<SendResult>;
  close(): Promise<void>;
}

export interface HttpTransportOptions {
  /** Collector base URL, e.g. https://collector.example:8443 or https://proxy.example/outpost. */
  url: string;
  userAgent?: string;
  /** How long an idle connection stays open for the next batch. */
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Keep-alive connections to the collector: one per batch the sender may have in flight. */
  connections?: number;
  /** Connection-level faults are logged at debug; the sender logs each outcome. */
  logger?: Logger;
  now?: () => number;
}

const DATA_PATH = '/api/v1/agent/data';
/** Answers are a few hundred bytes; a proxy's HTML error page is not worth more than this. */
const MAX_ANSWER_BYTES = 64 * 1024;

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

async function readAnswer(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The `{ error: { code, message } }` shape every collector error answer has. */
function errorAnswer(text: string): { code?: string; message?: string } {
  const parsed = parseJson(text) as { error?: { code?: unknown; message?: unknown } } | undefined;
  const error = parsed?.error;
  return {
    code: typeof error?.code === 'string' ? error.code : undefined,
    message: typeof error?.message === 'string' ? error.message : undefined,
  };
}

/**
 * Posts batches to one collector over keep-alive connections, one per batch in flight (HTTP/1.1
 * pipelining would make a slow answer hold up the ones behind it).
 */
export class HttpTransport implements Transport {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #origin: string;
  readonly #userAgent: string;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  #closing: Promise<void> | null = null;

  constructor(options: HttpTransportOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw badCollectorUrl(options.url, 'it is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw badCollectorUrl(options.url, `protocol ${url.protocol} is not http: or https:`);
    }
    this.#origin = url.origin;
    this.#path = url.pathname.replace(/\/+$/, '') + DATA_PATH;
    this.#userAgent = options.userAgent ?? 'outpost-agent';
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? 1,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    });
  }

  /** Where batches go, for logs. */
  get url(): string {
    return this.#origin + this.#path;
  }

  async send(request: SendRequest, options: SendOptions): Promise<SendResult> {
    if (this.#closing) throw transportClosed();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
    timer.unref();
    const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
    const headers: Record<string, string> = {
      authorization: `Bearer ${request.credentials.agentId}.${request.credentials.secret}`,
      'idempotency-key': request.idempotencyKey,
      'content-type': 'application/json',
      'user-agent': this.#userAgent,
    };
    if (request.contentEncoding === 'zstd') headers['content-encoding'] = 'zstd';
    try {
      const answer = await this.#pool.request({
        method: 'POST',
        path: this.#path,
        headers,
        body: request.body,
        signal,
      });
      const text = await readAnswer(answer.body);
      const status = answer.statusCode;
      switch (classify(status)) {
        case 'success':
          return { type: 'success', status, body: parseJson(text) };
        case 'unauthorized':
          return { type: 'unauthorized', status };
        case 'permanent': {
          const error = errorAnswer(text);
          return {
            type: 'permanent',
            status,
            code: error.code ?? `E_HTTP_${status}`,
            message: error.message ?? (text.trim().slice(0, 200) || `HTTP ${status}`),
          };
        }
        case 'retryable': {
          const error = errorAnswer(text);
          const location = answer.headers.location;
          const detail =
            error.code ?? (location ? `redirect to ${String(location)}; check the collector URL` : '');
          const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], this.#now());
          return {
            type: 'retryable',
            reason: detail ? `HTTP ${status} ${detail}` : `HTTP ${status}`,
            status,
            ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          };
        }
      }
    } catch (err) {
      this.#log?.debug({ err, url: this.url }, 'transport: request ended without an answer');
      if (options.signal?.aborted) return { type: 'retryable', reason: 'aborted by the caller' };
      if (deadline.signal.aborted) {
        return {
          type: 'retryable',
          reason: `timed out after ${options.timeoutMs} ms posting to ${this.url}`,
        };
      }
      return { type: 'retryable', reason: `${errorText(err)} (posting to ${this.url})` };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close().catch(() => this.#pool.destroy());
    return this.#closing;
  }
}
