// Not from 'undici': the serve command loads this module too, and undici's index costs the idle
// collector several MB of RSS (docs/operations.md, Idle cost).
import { type Dispatcher, getGlobalDispatcher } from '@outpost/service/undici';
import type { Command } from 'commander';
import { OutpostError } from '../../errors.ts';

export const DEFAULT_URL = 'http://127.0.0.1:7410';

/** The flags every admin command takes, inherited from its group. */
export interface AdminFlags {
  url?: string;
  adminToken?: string;
  json?: boolean;
}

export const collectorUnreachable = (url: string, cause: unknown) =>
  new OutpostError(
    'E_COLLECTOR_UNREACHABLE',
    `cannot reach the collector at ${url}: ${cause instanceof Error ? cause.message : String(cause)}; is it running? (set --url or OUTPOST_COLLECTOR_URL)`,
    { url },
  );

export const collectorRefused = (status: number, code: string, message: string) =>
  new OutpostError(code, `the collector answered ${status} ${code}: ${message}`, { status });

export const noAdminToken = () =>
  new OutpostError(
    'E_USAGE',
    'no admin token: pass --admin-token or set OUTPOST_ADMIN_TOKEN (the collector keeps it in <data_dir>/admin-token)',
  );

/** Talks to a running collector's HTTP API with the admin token. */
export class AdminClient {
  readonly url: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.url = url.replace(/\/+$/, '');
    this.#token = token;
  }

  static from(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): AdminClient {
    const token = flags.adminToken ?? env.OUTPOST_ADMIN_TOKEN;
    if (!token) throw noAdminToken();
    return new AdminClient(flags.url ?? env.OUTPOST_COLLECTOR_URL ?? DEFAULT_URL, token);
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  send<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.#send<T>(method, path, body === undefined ? undefined : JSON.stringify(body), {
      ...(body !== undefined && { 'content-type': 'application/json' }),
    });
  }

  /** Uploads raw bytes (a plugin package). */
  upload<T>(path: string, data: Buffer, headers: Record<string, string>): Promise<T> {
    return this.#send<T>('POST', path, data, headers);
  }

  async #send<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body: string | Buffer | undefined,
    headers: Record<string, string>,
  ): Promise<T> {
    let res: Dispatcher.ResponseData;
    try {
      const url = new URL(`${this.url}${path}`);
      res = await getGlobalDispatcher().request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...headers },
        ...(body !== undefined && { body }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      throw collectorUnreachable(this.url, err);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return json as T;
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw collectorRefused(
      res.statusCode,
      error?.code ?? `HTTP_${res.statusCode}`,
      error?.message ?? text.slice(0, 200),
    );
  }
}

/** Adds --url, --admin-token and --json to a command group; subcommands read them with flagsOf(). */
export function withAdminFlags(command: Command): Command {
  return command
    .option('--url <url>', `collector URL (default: OUTPOST_COLLECTOR_URL or ${DEFAULT_URL})`)
    .option('--admin-token <token>', 'admin token (default: OUTPOST_ADMIN_TOKEN)')
    .option('--json', 'print JSON instead of a table');
}

/** The flags of the groups above (however deep) merged with the subcommand's own. */
export function flagsOf<T extends object>(command: Command): AdminFlags & T {
  return { ...command.optsWithGlobals(), ...command.opts() } as AdminFlags & T;
}
