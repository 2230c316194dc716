import type { TLSSocket } from 'node:tls';
import type { HttpResponse, TlsInfo } from '../plugin.ts';
import { hostCallFailed, permissionDenied } from './errors.ts';
import { type Connector, undiciParts } from './undici.ts';

const MAX_REDIRECTS = 5;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TIMEOUT_MS = 10_000;

export interface HttpGrant {
  plugin: string;
  /** Normalized origins (`URL.origin`) from permissions.http. */
  origins: readonly string[];
  maxResponseBytes: number;
  /** Extra trusted CA certificates (PEM), added to Node's own. */
  ca?: string | undefined;
}

interface CheckedRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
  follow: boolean;
}

const httpFailed = (message: string) => hostCallFailed('E_PLUGIN_HTTP', message);

function checkRequest(raw: unknown): CheckedRequest {
  if (typeof raw !== 'object' || raw === null)
    throw httpFailed('http.request(): pass { url, method?, headers?, body? }');
  const r = raw as Record<string, unknown>;
  let url: URL;
  try {
    url = new URL(String(r.url));
  } catch {
    throw httpFailed(`http.request(): url ${JSON.stringify(r.url)} is not an absolute URL`);
  }
  const method = r.method === undefined ? 'GET' : String(r.method).toUpperCase();
  if (!/^[A-Z]{1,16}$/.test(method))
    throw httpFailed(`http.request(): method ${JSON.stringify(r.method)} is not valid`);
  const headers: Record<string, string> = {};
  if (r.headers !== undefined) {
    if (typeof r.headers !== 'object' || r.headers === null)
      throw httpFailed('http.request(): headers must be an object');
    for (const [name, value] of Object.entries(r.headers)) headers[name] = String(value);
  }
  if (r.body !== undefined && typeof r.body !== 'string') {
    throw httpFailed('http.request(): body must be a string (JSON.stringify objects yourself)');
  }
  const timeoutMs = r.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : Number(r.timeoutMs);
  if (!(timeoutMs > 0)) throw httpFailed('http.request(): timeoutMs must be a positive number');
  if (r.redirect !== undefined && r.redirect !== 'follow' && r.redirect !== 'manual') {
    throw httpFailed('http.request(): redirect must be "follow" or "manual"');
  }
  return { url, method, headers, body: r.body, timeoutMs, follow: r.redirect !== 'manual' };
}

function tlsInfo(socket: TLSSocket): TlsInfo | undefined {
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || !cert.valid_to) return undefined;
  const name = (entity: Record<string, unknown> | undefined) =>
    entity === undefined ? '' : String(entity.CN ?? entity.O ?? '');
  return {
    validFrom: Date.parse(cert.valid_from),
    validTo: Date.parse(cert.valid_to),
    subject: name(cert.subject as unknown as Record<string, unknown> | undefined),
    issuer: name(cert.issuer as unknown as Record<string, unknown> | undefined),
  };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * HTTP on behalf of a plugin. Every hop, redirects included, must go to an origin the plugin was
 * granted; each request gets its own connection so the TLS certificate and the timing belong to it.
 */
export class PluginHttpClient {
  readonly #grant: HttpGrant;
  #connector: Connector | undefined;

  constructor(grant: HttpGrant) {
    this.#grant = grant;
  }

  /** Built on the first request, so that undici and node:tls load only for plugins that use http. */
  #connect(): Connector {
    if (this.#connector === undefined) {
      const tls = process.getBuiltinModule('node:tls');
      // TLS sessions are not resumed: a resumed session carries no peer certificate, and plugins
      // such as http-check report the certificate's expiry on every probe.
      this.#connector = undiciParts().buildConnector({
        maxCachedSessions: 0,
        ...(this.#grant.ca === undefined ? {} : { ca: [...tls.rootCertificates, this.#grant.ca] }),
      });
    }
    return this.#connector;
  }

  async request(raw: unknown, signal: AbortSignal, remainingMs: number): Promise<HttpResponse> {
    const req = checkRequest(raw);
    const timeoutMs = Math.max(1, Math.ceil(Math.min(req.timeoutMs, remainingMs)));
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    const started = performance.now();
    let url = req.url;
    let method = req.method;
    let body = req.body;
    for (let hop = 0; ; hop++) {
      this.#checkOrigin(url, hop === 0 ? undefined : req.url);
      let peer: TlsInfo | undefined;
      const connector = this.#connect();
      const agent = new (undiciParts().Agent)({
        connect: (options, callback) =>
          connector(options, (...args) => {
            const socket = args[1];
            // undici passes undefined, not null, as the socket of a failed connect.
            if (socket != null && 'getPeerCertificate' in socket) {
              try {
                peer = tlsInfo(socket);
              } catch {
                peer = undefined;
              }
            }
            callback(...args);
          }),
      });
      try {
        const res = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: method as 'GET',
          headers: req.headers,
          body,
          signal: deadline,
        });
        const location = res.headers.location;
        if (req.follow && REDIRECTS.has(res.statusCode) && typeof location === 'string') {
          await res.body.dump();
          if (hop + 1 > MAX_REDIRECTS)
            throw httpFailed(`http.request(): more than ${MAX_REDIRECTS} redirects from ${req.url.href}`);
          const next = new URL(location, url);
          if (
            res.statusCode === 303 ||
            ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
          ) {
            method = 'GET';
            body = undefined;
          }
          url = next;
          continue;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length;
          if (size > this.#grant.maxResponseBytes) {
            res.body.destroy();
            throw httpFailed(
              `http.request(): the response from ${url.origin} is over ${this.#grant.maxResponseBytes} bytes (limits.maxHttpResponseBytes)`,
            );
          }
          chunks.push(chunk as Buffer);
        }
        const response: HttpResponse = {
          status: res.statusCode,
          headers: flattenHeaders(res.headers),
          body: Buffer.concat(chunks).toString('utf8'),
          url: url.href,
          durationMs: performance.now() - started,
        };
        if (peer !== undefined) response.tls = peer;
        return response;
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('E_PLUGIN_')) throw err;
        if (deadline.aborted && !signal.aborted) {
          throw httpFailed(
            `http.request(): ${method} ${url.href} timed out after ${Math.round(timeoutMs)} ms`,
          );
        }
        const e = err as NodeJS.ErrnoException;
        throw httpFailed(
          `http.request(): ${method} ${url.href} failed: ${e.code ? `${e.code} ` : ''}${e.message}`,
        );
      } finally {
        agent.destroy().catch(() => {});
      }
    }
  }

  #checkOrigin(url: URL, redirectedFrom: URL | undefined): void {
    if ((url.protocol === 'http:' || url.protocol === 'https:') && this.#grant.origins.includes(url.origin))
      return;
    const allowed = this.#grant.origins.length === 0 ? 'none' : this.#grant.origins.join(', ');
    const what =
      redirectedFrom === undefined
        ? `http to ${url.origin} is not allowed (permissions.http: ${allowed})`
        : `http redirect from ${redirectedFrom.origin} to ${url.origin} leaves the allowed origins (permissions.http: ${allowed})`;
    throw permissionDenied(this.#grant.plugin, what, { origin: url.origin, allowed: this.#grant.origins });
  }
}
