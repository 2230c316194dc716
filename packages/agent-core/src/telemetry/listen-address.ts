import { isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses "host:port" ("127.0.0.1:9464", "[::1]:9464", "localhost:9464") and accepts loopback
 * hosts only: the metrics carry no secrets but describe the host, and anything wider belongs
 * behind a proxy the operator chooses. Returns the reason as a string when the text is refused.
 */
export function parseLoopbackListen(text: string): ListenAddress | string {
  const example = 'expected host:port on loopback, such as "127.0.0.1:9464" or "[::1]:9464"';
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return `${example}, got ${JSON.stringify(text)}`;
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (port > 65_535) return `port must be at most 65535, got ${port}`;
  if (!isLoopback(host)) {
    return `${JSON.stringify(host)} is not a loopback address: metrics are served on 127.0.0.1, ::1 or localhost only (put a reverse proxy in front to expose them)`;
  }
  return { host, port };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}
