import { Client, type Dispatcher } from '../undici/index.ts';
import { agentNotRunning, controlRequestFailed, socketNotAccessible } from './errors.ts';

export type ControlQuery = Record<string, string | number | boolean | undefined>;

/** agentctl's side of the control socket. */
export class ControlClient {
  readonly socketPath: string;
  readonly #client: Client;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    const timeout = options.timeoutMs ?? 10_000;
    this.#client = new Client('http://agent', { socketPath, headersTimeout: timeout, bodyTimeout: timeout });
  }

  get<T>(path: string, query?: ControlQuery): Promise<T> {
    return this.#json<T>('GET', withQuery(path, query));
  }

  /** `body`, when given, goes as JSON. */
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.#json<T>('POST', path, body);
  }

  /** A POST whose body is JSON text already, e.g. encoded once and sent again. */
  postJson<T>(path: string, json: string): Promise<T> {
    return this.#json<T>('POST', path, undefined, json);
  }

  /** A GET whose answer is text, e.g. /metrics. */
  async text(path: string, query?: ControlQuery): Promise<string> {
    const url = withQuery(path, query);
    const res = await this.#request({ method: 'GET', path: url });
    if (res.statusCode !== 200) throw await failed(url, res);
    return res.body.text();
  }

  /**
   * Follows an NDJSON stream (a POST of `body` when given), calling `onLine` with each parsed line. Resolves when the agent ends
   * the stream or `signal` aborts; rejects when the connection breaks.
   */
  async stream<T>(
    path: string,
    onLine: (value: T) => void,
    options: { query?: ControlQuery; signal?: AbortSignal; body?: unknown } = {},
  ): Promise<void> {
    const url = withQuery(path, options.query);
    const { signal } = options;
    if (signal?.aborted) return;
    let res: Dispatcher.ResponseData;
    try {
      // No body timeout: a quiet stream is not a dead one.
      const post =
        options.body === undefined
          ? { method: 'GET' as const }
          : {
              method: 'POST' as const,
              body: JSON.stringify(options.body),
              headers: { 'content-type': 'application/json' },
            };
      res = await this.#request({ ...post, path: url, signal, bodyTimeout: 0 });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    if (res.statusCode !== 200) throw await failed(url, res);
    let pending = '';
    try {
      for await (const chunk of res.body) {
        pending += (chunk as Buffer).toString('utf8');
        let newline = pending.indexOf('\n');
        while (newline !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.length > 0) onLine(JSON.parse(line) as T);
          newline = pending.indexOf('\n');
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  async #json<T>(method: 'GET' | 'POST', path: string, body?: unknown, json?: string): Promise<T> {
    const text = json ?? (body === undefined ? undefined : JSON.stringify(body));
    const res = await this.#request({
      method,
      path,
      ...(text === undefined ? {} : { body: text, headers: { 'content-type': 'application/json' } }),
    });
    if (res.statusCode !== 200) throw await failed(path, res);
    return (await res.body.json()) as T;
  }

  async #request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    try {
      return await this.#client.request(options);
    } catch (err) {
      if (options.signal && (options.signal as AbortSignal).aborted) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw socketNotAccessible(this.socketPath, err);
      throw agentNotRunning(this.socketPath, err);
    }
  }
}

function withQuery(path: string, query: ControlQuery | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${text}`;
}

async function failed(path: string, res: Dispatcher.ResponseData) {
  const text = await res.body.text();
  let message = text.trim() || 'no answer body';
  let code: string | undefined;
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    message = error?.message ?? message;
    code = error?.code;
  } catch {
    // Not the control API's JSON error shape: the text itself is the best message.
  }
  return controlRequestFailed(path, res.statusCode, message, code);
}
