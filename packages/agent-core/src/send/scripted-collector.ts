import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decompress } from 'zstd-napi';

/** What a scripted collector saw: one entry per request, in arrival order. */
export interface SeenRequest {
  n: number;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The decoded JSON body, decompressed when Content-Encoding is zstd. */
  json: unknown;
  rawBytes: number;
  socketId: number;
}

/** Answers request `n` (1-based), possibly later (a promise). `stall` never answers; `destroy` cuts the socket. */
export type Step = { status: number; body?: unknown; headers?: Record<string, string> } | 'destroy' | 'stall';

/**
 * A real node:http server on 127.0.0.1 port 0 that plays a script by request count, the way
 * undici's own tests script faults. Test support only: not exported from the folder's index.
 */
export class ScriptedCollector {
  readonly seen: SeenRequest[] = [];
  readonly #server: Server;
  readonly #script: (n: number, json: unknown) => Step | Promise<Step>;
  readonly #stalled = new Set<ServerResponse>();
  #sockets = 0;

  private constructor(script: (n: number, json: unknown) => Step | Promise<Step>) {
    this.#script = script;
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets += 1;
      (socket as unknown as { outpostId: number }).outpostId = this.#sockets;
    });
  }

  static async start(script: (n: number, json: unknown) => Step | Promise<Step>): Promise<ScriptedCollector> {
    const collector = new ScriptedCollector(script);
    collector.#server.listen(0, '127.0.0.1');
    await once(collector.#server, 'listening');
    return collector;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  get connections(): number {
    return this.#sockets;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const plain = req.headers['content-encoding'] === 'zstd' ? decompress(raw) : raw;
    let json: unknown;
    try {
      json = JSON.parse(plain.toString('utf8'));
    } catch {
      json = undefined;
    }
    const n = this.seen.length + 1;
    this.seen.push({
      n,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      json,
      rawBytes: plain.length,
      socketId: (req.socket as unknown as { outpostId: number }).outpostId,
    });
    const step = await this.#script(n, json);
    if (step === 'destroy') {
      req.socket.destroy();
      return;
    }
    if (step === 'stall') {
      this.#stalled.add(res);
      return;
    }
    const payload = JSON.stringify(step.body ?? {});
    res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
    res.end(payload);
  }

  async close(): Promise<void> {
    for (const res of this.#stalled) res.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

/** What the collector answers to a good batch (docs/protocol.md). */
export function accepted(json: unknown): Step {
  const body = json as { batch: { seq: number }; records: unknown[] };
  return { status: 200, body: { batchSeq: body.batch.seq, accepted: body.records.length } };
}
