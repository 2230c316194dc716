/**
 * A loopback HTTP proxy between an agent and its collector that misbehaves on purpose: it resets
 * connections before or after forwarding (the latter drops an answer the collector already
 * committed), stalls, and answers 500, 429 and 503 with Retry-After in seconds or as an HTTP date.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';

export type Fault =
  | 'pass'
  | 'reset_before'
  | 'reset_after'
  | 'stall'
  | 'status_500'
  | 'status_429'
  | 'status_503_date'
  | 'reject_400';

/** Weights of each fault; 'pass' takes what is left. */
export type FaultMix = Partial<Record<Exclude<Fault, 'pass'>, number>>;

export const CHAOS: FaultMix = {
  reset_before: 0.08,
  reset_after: 0.08,
  stall: 0.03,
  status_500: 0.06,
  status_429: 0.05,
  status_503_date: 0.05,
};

export class FlakyProxy {
  readonly counts: Record<Fault, number> = {
    pass: 0,
    reset_before: 0,
    reset_after: 0,
    stall: 0,
    status_500: 0,
    status_429: 0,
    status_503_date: 0,
    reject_400: 0,
  };
  mix: FaultMix = {};
  /** Only requests whose path starts with this are faulted; the rest pass. */
  faultPath = '/api/v1/agent/data';
  readonly #target: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #random: () => number;

  private constructor(target: string, random: () => number) {
    this.#target = target;
    this.#random = random;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(target: string, random: () => number = Math.random): Promise<FlakyProxy> {
    const proxy = new FlakyProxy(target, random);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #pick(path: string): Fault {
    if (!path.startsWith(this.faultPath)) return 'pass';
    let roll = this.#random();
    for (const [fault, weight] of Object.entries(this.mix) as Array<[Fault, number]>) {
      if (roll < weight) return fault;
      roll -= weight;
    }
    return 'pass';
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const fault = this.#pick(req.url ?? '/');
    this.counts[fault]++;
    switch (fault) {
      case 'reset_before':
        req.socket.destroy();
        return;
      case 'stall':
        // Held until the agent's request timeout gives up on it; the socket dies with the proxy.
        return;
      case 'status_500':
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"error":{"code":"E_PROXY","message":"injected 500"}}');
        return;
      case 'status_429':
        res
          .writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' })
          .end('{"error":{"code":"E_RATE","message":"injected 429"}}');
        return;
      case 'status_503_date':
        res
          .writeHead(503, {
            'retry-after': new Date(Date.now() + 1000).toUTCString(),
            'content-type': 'application/json',
          })
          .end('{"error":{"code":"E_UNAVAILABLE","message":"injected 503"}}');
        return;
      case 'reject_400':
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end('{"error":{"code":"E_PROXY_REJECT","message":"injected permanent refusal"}}');
        return;
    }
    try {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.connection;
      const upstream = await request(`${this.#target}${req.url}`, {
        method: req.method as 'GET' | 'POST',
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const body = Buffer.from(await upstream.body.arrayBuffer());
      if (fault === 'reset_after') {
        req.socket.destroy();
        return;
      }
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(upstream.headers)) {
        if (typeof v === 'string' && k !== 'connection' && k !== 'transfer-encoding') out[k] = v;
      }
      res.writeHead(upstream.statusCode, out).end(body);
    } catch {
      // The collector is down (killed by the harness): the agent sees a dropped connection.
      req.socket.destroy();
    }
  }
}
