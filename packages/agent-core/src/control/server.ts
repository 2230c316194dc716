import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { isOutpostError } from '../errors.ts';
import { agentAlreadyRunning, badRequest, bodyTooLarge } from './errors.ts';
import { type ControlStream, StreamReply, TextReply } from './reply.ts';

// process.getBuiltinModule rather than import: the ESM view of node:http reads every export, and
// its lazy WebSocket and MessageEvent load Node's bundled undici, about 10 MB of RSS for nothing.
const { createServer } = process.getBuiltinModule('node:http');

export interface ControlRequest {
  method: 'GET' | 'POST';
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when the request has none. */
  body: unknown;
  raw: IncomingMessage;
}

/**
 * A route answers with a JSON value, a textReply() or a streamReply(). Throwing an OutpostError
 * answers with its code: E_BAD_REQUEST 400, E_NOT_FOUND 404, any other code 409.
 */
export type ControlRoute = (req: ControlRequest) => unknown | Promise<unknown>;
export type ControlRoutes = Record<`${'GET' | 'POST'} /${string}`, ControlRoute>;

export interface ControlServerOptions {
  socketPath: string;
  routes: ControlRoutes;
  logger: Logger;
  /** Largest request body accepted; default 1 MiB. */
  maxBodyBytes?: number;
}

const STATUS_BY_CODE: Record<string, number> = {
  E_BAD_REQUEST: 400,
  E_NOT_FOUND: 404,
  E_BODY_TOO_LARGE: 413,
};

/**
 * The agent's control API for agentctl: HTTP on a unix socket that only the agent's user can open,
 * so no token is needed and nothing listens on the network.
 */
export class ControlServer {
  readonly socketPath: string;
  readonly #server: Server;
  readonly #logger: Logger;
  readonly #maxBodyBytes: number;
  /** Ends each open stream; close() calls them so no stream holds shutdown. */
  readonly #streams = new Set<() => void>();
  /** Requests in progress per connection, so close() can drop connections that carry none. */
  readonly #busy = new Map<Socket, number>();
  /**
   * Where a body of several chunks is joined before decoding, kept from one request to the next
   * (grown to the largest body, at most maxBodyBytes, which then stays resident). Buffer.concat
   * took a fresh 1 MB allocation per 5000-record push, mapped and unmapped each time: about 0.12
   * µs per pushed record.
   */
  #joinBuffer: Buffer | null = null;
  #closing: Promise<void> | null = null;

  private constructor(options: ControlServerOptions) {
    this.socketPath = options.socketPath;
    this.#logger = options.logger;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.#server = createServer((req, res) => {
      const socket = req.socket;
      this.#busy.set(socket, (this.#busy.get(socket) ?? 0) + 1);
      res.once('close', () => this.#busy.set(socket, (this.#busy.get(socket) ?? 1) - 1));
      void this.#handle(options.routes, req, res);
    });
    this.#server.on('connection', (socket: Socket) => {
      this.#busy.set(socket, 0);
      socket.once('close', () => this.#busy.delete(socket));
    });
  }

  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const control = new ControlServer(options);
    await control.#listen();
    return control;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => {
        rmSync(this.socketPath, { force: true });
        resolve();
      });
      for (const end of [...this.#streams]) end();
      // closeIdleConnections() skips connections that never carried a request, such as the one
      // undici opens ahead of time after an aborted stream; they would hold close() for seconds.
      for (const [socket, requests] of this.#busy) if (requests === 0) socket.destroy();
      this.#server.closeIdleConnections();
    });
    return this.#closing;
  }

  async #listen(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o700 });
    if (await socketAnswers(this.socketPath)) throw agentAlreadyRunning(this.socketPath);
    // A socket file left by a killed agent would make listen() fail with EADDRINUSE.
    rmSync(this.socketPath, { force: true });
    // The umask closes the window between bind and chmod in which others could connect.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject);
        this.#server.listen(this.socketPath, () => {
          this.#server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(this.socketPath, 0o600);
  }

  async #handle(routes: ControlRoutes, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    const route = routes[`${req.method} ${path}` as keyof ControlRoutes];
    try {
      if (!route) {
        req.resume();
        reply(res, 404, {
          error: { code: 'E_NOT_FOUND', message: `no control route ${req.method} ${path}` },
        });
        return;
      }
      const body = await this.#readBody(req, path);
      const answer = await route({
        method: req.method as 'GET' | 'POST',
        path,
        query: url.searchParams,
        body,
        raw: req,
      });
      if (answer instanceof TextReply) {
        res.writeHead(200, {
          'content-type': answer.contentType,
          'content-length': Buffer.byteLength(answer.body),
        });
        res.end(answer.body);
      } else if (answer instanceof StreamReply) {
        await this.#stream(answer, res, path);
      } else {
        reply(res, 200, answer);
      }
    } catch (err) {
      if (res.headersSent) {
        this.#logger.error({ err, path }, 'control stream failed');
        res.destroy();
        return;
      }
      if (isOutpostError(err)) {
        reply(res, STATUS_BY_CODE[err.code] ?? 409, { error: { code: err.code, message: err.message } });
        return;
      }
      this.#logger.error({ err, path }, 'control request failed');
      reply(res, 500, {
        error: { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) },
      });
    }
  }

  async #readBody(req: IncomingMessage, path: string): Promise<unknown> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.#maxBodyBytes) {
      req.resume();
      throw bodyTooLarge(path, this.#maxBodyBytes);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.#maxBodyBytes) {
        req.resume();
        throw bodyTooLarge(path, this.#maxBodyBytes);
      }
      chunks.push(chunk);
    }
    if (size === 0) return undefined;
    const text = this.#decode(chunks, size);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`${path}: the body is not valid JSON (${(err as Error).message})`);
    }
  }

  /** The chunks' UTF-8 text. Synchronous, so one join buffer serves every request. */
  #decode(chunks: Buffer[], size: number): string {
    if (chunks.length === 1) return (chunks[0] as Buffer).toString('utf8');
    if (this.#joinBuffer === null || this.#joinBuffer.length < size) {
      // Doubling: bodies that grow a little at a time do not each take a new buffer.
      const doubled = 2 * (this.#joinBuffer?.length ?? 0);
      this.#joinBuffer = Buffer.allocUnsafeSlow(Math.min(this.#maxBodyBytes, Math.max(size, doubled)));
    }
    const joined = this.#joinBuffer;
    let offset = 0;
    for (const chunk of chunks) offset += chunk.copy(joined, offset);
    return joined.toString('utf8', 0, size);
  }

  async #stream(answer: StreamReply, res: ServerResponse, path: string): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    const controller = new AbortController();
    let dropped = 0;
    const end = (): void => {
      this.#streams.delete(end);
      if (!controller.signal.aborted) controller.abort();
      if (!res.writableEnded) res.end();
    };
    this.#streams.add(end);
    // 'close' fires when the client goes away as well as after end().
    res.once('close', end);
    const stream: ControlStream = {
      write(value) {
        if (controller.signal.aborted) return false;
        if (res.writableNeedDrain) {
          dropped += 1;
          return false;
        }
        res.write(`${JSON.stringify(value)}\n`);
        return true;
      },
      end,
      signal: controller.signal,
      get dropped() {
        return dropped;
      },
    };
    if (this.#closing) {
      end();
      return;
    }
    try {
      await answer.start(stream);
    } catch (err) {
      this.#logger.error({ err, path }, 'control stream failed');
      end();
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
