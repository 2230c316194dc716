import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { isOutpostError } from '../errors.ts';
import { agentAlreadyRunning } from './errors.ts';

/** A route answers with a JSON value; throwing an OutpostError answers 4xx/5xx with its code. */
export type ControlRoute = (req: IncomingMessage) => unknown | Promise<unknown>;
export type ControlRoutes = Record<`${'GET' | 'POST'} /${string}`, ControlRoute>;

/**
 * The agent's control API for agentctl: HTTP on a unix socket that only the agent's user can open,
 * so no token is needed and nothing listens on the network.
 */
export class ControlServer {
  readonly socketPath: string;
  readonly #server: Server;
  readonly #logger: Logger;
  #closing: Promise<void> | null = null;

  private constructor(socketPath: string, routes: ControlRoutes, logger: Logger) {
    this.socketPath = socketPath;
    this.#logger = logger;
    this.#server = createServer((req, res) => void this.#handle(routes, req, res));
  }

  static async listen(options: {
    socketPath: string;
    routes: ControlRoutes;
    logger: Logger;
  }): Promise<ControlServer> {
    const control = new ControlServer(options.socketPath, options.routes, options.logger);
    await control.#listen();
    return control;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => {
        rmSync(this.socketPath, { force: true });
        resolve();
      });
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
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    const route = routes[`${req.method} ${path}` as keyof ControlRoutes];
    try {
      if (!route) {
        reply(res, 404, {
          error: { code: 'E_NOT_FOUND', message: `no control route ${req.method} ${path}` },
        });
        return;
      }
      reply(res, 200, await route(req));
    } catch (err) {
      if (isOutpostError(err)) {
        reply(res, 409, { error: { code: err.code, message: err.message } });
        return;
      }
      this.#logger.error({ err, path }, 'control request failed');
      reply(res, 500, {
        error: { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) },
      });
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
