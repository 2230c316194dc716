import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { OutpostError } from '../errors.ts';
import { metricsListenerClosed, metricsListenFailed } from './errors.ts';
import { parseLoopbackListen } from './listen-address.ts';

// process.getBuiltinModule rather than import: the ESM view of node:http reads every export, and
// its lazy WebSocket and MessageEvent load Node's bundled undici, about 10 MB of RSS for nothing.
const { createServer } = process.getBuiltinModule('node:http');

export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsListenerOptions {
  /** "host:port" on loopback; port 0 picks a free port (see `url`). */
  listen: string;
  source: MetricsSource;
  logger: Logger;
}

/** GET /metrics on a loopback TCP port, for a Prometheus that cannot read the control socket. */
export class MetricsListener {
  readonly #server: Server;
  readonly #source: MetricsSource;
  readonly #logger: Logger;
  #url = '';
  #closing: Promise<void> | null = null;

  private constructor(options: MetricsListenerOptions) {
    this.#source = options.source;
    this.#logger = options.logger;
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('only GET /metrics is served here\n');
        return;
      }
      this.#source.metrics().then(
        (text) => {
          res.writeHead(200, {
            'content-type': this.#source.contentType,
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
        },
        (err: unknown) => {
          this.#logger.error({ err }, 'metrics scrape failed');
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`scrape failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
    });
    // Scrapes are short: an idle keep-alive connection must not hold close().
    this.#server.keepAliveTimeout = 5_000;
  }

  static async listen(options: MetricsListenerOptions): Promise<MetricsListener> {
    const address = parseLoopbackListen(options.listen);
    if (typeof address === 'string') {
      throw new OutpostError('E_METRICS_LISTEN', `metrics.listen: ${address}`, { listen: options.listen });
    }
    const listener = new MetricsListener(options);
    await new Promise<void>((resolve, reject) => {
      listener.#server.once('error', (err) => reject(metricsListenFailed(options.listen, err)));
      listener.#server.listen(address.port, address.host, () => resolve());
    });
    const bound = listener.#server.address() as AddressInfo;
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    listener.#url = `http://${host}:${bound.port}/metrics`;
    options.logger.info({ url: listener.#url }, 'serving self-metrics');
    return listener;
  }

  /** Where Prometheus scrapes, e.g. http://127.0.0.1:9464/metrics. */
  get url(): string {
    if (this.#closing) throw metricsListenerClosed();
    return this.#url;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
    return this.#closing;
  }
}
