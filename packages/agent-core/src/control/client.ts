import { Client } from 'undici';
import { agentNotRunning, controlRequestFailed, socketNotAccessible } from './errors.ts';

/** agentctl's side of the control socket. */
export class ControlClient {
  readonly socketPath: string;
  readonly #client: Client;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    const timeout = options.timeoutMs ?? 10_000;
    this.#client = new Client('http://agent', { socketPath, headersTimeout: timeout, bodyTimeout: timeout });
  }

  get<T>(path: string): Promise<T> {
    return this.#request<T>('GET', path);
  }

  post<T>(path: string): Promise<T> {
    return this.#request<T>('POST', path);
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  async #request<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    let res: Awaited<ReturnType<Client['request']>>;
    try {
      res = await this.#client.request({ method, path });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw socketNotAccessible(this.socketPath, err);
      throw agentNotRunning(this.socketPath, err);
    }
    const body = (await res.body.json()) as T & { error?: { message?: string } };
    if (res.statusCode !== 200)
      throw controlRequestFailed(path, res.statusCode, body.error?.message ?? 'unknown error');
    return body;
  }
}
