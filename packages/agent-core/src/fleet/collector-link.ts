import { renameSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isOutpostError } from '../errors.ts';
import { Pool } from '../undici/index.ts';
import { collectorUnreachable, noEnrollmentToken, notRegistered, registrationRefused } from './errors.ts';
import { type AgentIdentity, identityPath, loadIdentity, saveIdentity } from './identity.ts';

export interface HeartbeatStatus {
  version: string;
  uptimeSec: number;
  configVersion: string;
  queue: { depth: number; bytes: number; dropped: number; deadLetter: number };
  cpuPercent: number;
  rssBytes: number;
  lastSendAt: number | null;
  plugins: unknown[];
}

const heartbeatAnswerSchema = z.object({
  serverTime: z.number(),
  desiredConfigVersion: z.string().nullable().optional(),
  desiredPlugins: z.string().nullable().optional(),
  commands: z.array(z.unknown()).optional(),
  minSendIntervalMs: z.number().nonnegative().nullable().optional(),
});
export type HeartbeatAnswer = z.infer<typeof heartbeatAnswerSchema>;

const registerAnswerSchema = z.object({ agentId: z.string().min(1), secret: z.string().min(1) });

/** Who this agent is on the wire: what the sender puts in every batch. */
export interface SenderIdentity {
  agentId: string;
  secret: string;
  hostname: string;
  labels: Record<string, string>;
}

export interface LinkStatus {
  url: string;
  agentId: string | null;
  registered: boolean;
  lastRegisterError: string | null;
  lastHeartbeatAt: number | null;
  lastHeartbeatError: string | null;
}

export interface CollectorLinkOptions {
  url: string;
  enrollmentToken: string;
  stateDir: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  /** Backoff between registration attempts. */
  backoff: (attempt: number) => number;
  status: () => HeartbeatStatus;
  onHeartbeatAnswer: (answer: HeartbeatAnswer) => void;
  logger: Logger;
}

export class HttpAnswerError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The agent's standing with its collector: a registered identity (kept in the state dir, renewed
 * when the collector no longer knows it) and the heartbeat that reports status and brings back
 * the collector's hints. Data itself goes through the sender, not through here.
 */
export class CollectorLink {
  readonly #options: CollectorLinkOptions;
  readonly #pool: Pool;
  readonly #abort = new AbortController();
  #identity: AgentIdentity | null = null;
  /** Offered when registering again, so the collector can keep this host's id. */
  #previousAgentId: string | null = null;
  #registering: Promise<void> | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #heartbeatInFlight: Promise<void> | null = null;
  #lastRegisterError: string | null = null;
  #lastHeartbeatAt: number | null = null;
  #lastHeartbeatError: string | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: CollectorLinkOptions) {
    this.#options = options;
    this.#pool = new Pool(new URL(options.url).origin, {
      connections: 2,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
    });
  }

  start(): void {
    const saved = this.#loadSavedIdentity();
    // An identity is only valid at the collector that issued it.
    if (saved && saved.collectorUrl === this.#options.url) {
      this.#identity = saved;
      this.#previousAgentId = saved.agentId;
    }
    if (!this.#identity) void this.renewIdentity();
    this.#heartbeatTimer = setInterval(() => this.#beat(), this.#options.heartbeatIntervalMs).unref();
    this.#beat();
  }

  identity(): SenderIdentity | null {
    if (!this.#identity) return null;
    return {
      agentId: this.#identity.agentId,
      secret: this.#identity.secret,
      hostname: this.#options.hostname,
      labels: this.#options.labels,
    };
  }

  /** Registers (again) and resolves once registered or closed; concurrent callers share one attempt. */
  renewIdentity(): Promise<void> {
    if (this.#identity) this.#previousAgentId = this.#identity.agentId;
    this.#identity = null;
    this.#registering ??= this.#registerUntilDone().finally(() => {
      this.#registering = null;
    });
    return this.#registering;
  }

  status(): LinkStatus {
    return {
      url: this.#options.url,
      agentId: this.#identity?.agentId ?? null,
      registered: this.#identity !== null,
      lastRegisterError: this.#lastRegisterError,
      lastHeartbeatAt: this.#lastHeartbeatAt,
      lastHeartbeatError: this.#lastHeartbeatError,
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
      await Promise.allSettled([this.#registering, this.#heartbeatInFlight]);
      await this.#pool.close();
    })();
    return this.#closing;
  }

  /** A damaged identity file must not stop the agent: set it aside and register as a new agent. */
  #loadSavedIdentity(): AgentIdentity | null {
    try {
      return loadIdentity(this.#options.stateDir);
    } catch (err) {
      if (!isOutpostError(err, 'E_IDENTITY_INVALID')) throw err;
      const path = identityPath(this.#options.stateDir);
      const aside = `${path}.invalid-${Date.now()}`;
      renameSync(path, aside);
      this.#options.logger.error(
        { err, movedTo: aside },
        'identity file is damaged; registering as a new agent',
      );
      return null;
    }
  }

  async #registerUntilDone(): Promise<void> {
    const { logger, url } = this.#options;
    for (let attempt = 0; !this.#abort.signal.aborted; attempt++) {
      try {
        this.#identity = await this.#register();
        saveIdentity(this.#options.stateDir, this.#identity);
        this.#lastRegisterError = null;
        logger.info({ agentId: this.#identity.agentId, collector: url }, 'registered with the collector');
        this.#beat();
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.#lastRegisterError) logger.warn({ err }, 'registration failed; retrying');
        this.#lastRegisterError = message;
      }
      try {
        await sleep(this.#options.backoff(attempt), undefined, { signal: this.#abort.signal, ref: false });
      } catch {
        return;
      }
    }
  }

  async #register(): Promise<AgentIdentity> {
    const { url, enrollmentToken, hostname, labels, version } = this.#options;
    if (!enrollmentToken) throw noEnrollmentToken(url);
    let answer: unknown;
    try {
      answer = await this.#post('/api/v1/agent/register', null, {
        enrollmentToken,
        hostname,
        labels,
        version,
        ...(this.#previousAgentId !== null && { agentId: this.#previousAgentId }),
      });
    } catch (err) {
      if (err instanceof HttpAnswerError) throw registrationRefused(url, err.status, err.code, err.message);
      throw err;
    }
    const parsed = registerAnswerSchema.parse(answer);
    return { agentId: parsed.agentId, secret: parsed.secret, collectorUrl: url, registeredAt: Date.now() };
  }

  /**
   * An authenticated request to an agent route (remote config, command results). A 401 starts a
   * new registration, as for heartbeats.
   */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    return this.#authenticated(method, path, body, false);
  }

  /** GET of a binary answer (a plugin package). */
  async download(path: string): Promise<Buffer> {
    return (await this.#authenticated('GET', path, undefined, true)) as Buffer;
  }

  async #authenticated(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    binary: boolean,
  ): Promise<unknown> {
    const identity = this.#identity;
    if (!identity) throw notRegistered(this.#options.url);
    try {
      return await this.#send(method, path, identity, body, binary);
    } catch (err) {
      if (err instanceof HttpAnswerError && err.status === 401 && this.#identity === identity) {
        void this.renewIdentity();
      }
      throw err;
    }
  }

  #beat(): void {
    const identity = this.#identity;
    if (!identity || this.#heartbeatInFlight || this.#abort.signal.aborted) return;
    this.#heartbeatInFlight = this.#post('/api/v1/agent/heartbeat', identity, this.#options.status())
      .then((answer) => {
        this.#lastHeartbeatAt = Date.now();
        this.#lastHeartbeatError = null;
        this.#options.onHeartbeatAnswer(heartbeatAnswerSchema.parse(answer));
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.#lastHeartbeatError) this.#options.logger.warn({ err }, 'heartbeat failed');
        this.#lastHeartbeatError = message;
        // The collector lost or revoked this identity: register again rather than send in vain.
        if (err instanceof HttpAnswerError && err.status === 401 && this.#identity === identity) {
          void this.renewIdentity();
        }
      })
      .finally(() => {
        this.#heartbeatInFlight = null;
      });
  }

  #post(path: string, identity: AgentIdentity | null, body: unknown): Promise<unknown> {
    return this.#send('POST', path, identity, body);
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    identity: AgentIdentity | null,
    body: unknown,
    binary = false,
  ): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (method === 'POST') headers['content-type'] = 'application/json';
    if (identity) headers.authorization = `Bearer ${identity.agentId}.${identity.secret}`;
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.#pool.request({
        method,
        path,
        headers,
        ...(method === 'POST' && { body: JSON.stringify(body) }),
        signal: this.#abort.signal,
      });
    } catch (err) {
      throw collectorUnreachable(this.#options.url, err);
    }
    if (binary && res.statusCode >= 200 && res.statusCode < 300) {
      return Buffer.from(await res.body.arrayBuffer());
    }
    const text = await res.body.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's HTML error page: report the status below.
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return json;
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new HttpAnswerError(
      res.statusCode,
      error?.code ?? `HTTP_${res.statusCode}`,
      error?.message ?? `${path} answered ${res.statusCode}`,
    );
  }
}
