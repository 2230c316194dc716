import { type ChildProcess, fork } from 'node:child_process';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import { type PluginOutput, readPluginOutput, toJsonPieces } from '@outpost/plugin-sdk/records';
import type { PluginLogEntry } from '@outpost/plugin-sdk/sandbox';
import type { Logger } from 'pino';
import { asOutpostError, hostClosed, hostDied, hostTimeout, remoteError } from './errors.ts';
import type { CallMethod, HostMessage, HostRequest, LoadSpec, SandboxReport } from './protocol.ts';

export interface PluginHostOptions {
  logger: Logger;
  /** Longest wait for any answer of the child; sandbox calls carry their own, shorter, timeouts. */
  requestTimeoutMs?: number;
  /** Delay before restarting a child that died, doubled per death up to restartMaxMs. */
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** Runs after a restarted child is ready, before it counts as up (the supervisor reloads plugins). */
  onRestart?: () => Promise<void>;
  onLog?: (entry: PluginLogEntry) => void;
  /** V8 lost control of a plugin's isolate; the child exits right after (and is restarted). */
  onFatal?: (plugin: string, message: string) => void;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

type Request = HostRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const HOST_MAIN = new URL(`./host-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

// Test-runner, debugger and watch flags must not follow the daemon into the child.
const CHILD_FLAG_DROPPED = /^--(test|inspect|debug|watch|experimental-test)/;

/**
 * isolated-vm needs --no-node-snapshot. A young generation of at most 2 MB instead of V8's default
 * (up to 16 MB): the host's own heap holds little for long, and an idle host keeps about 4 MB less
 * RSS (bench/idle.bench.ts). 2 MB rather than 1 MB: under load it saves about 0.15 us of
 * plugin-host CPU per record (bench plugins.bench.ts) for up to about 5 MB more RSS once the host
 * has been busy, and none measurable while it idles; 4 MB saves no more and keeps about 15 MB.
 */
const CHILD_FLAGS = ['--no-node-snapshot', '--max-semi-space-size=2'];

function childExecArgv(): string[] {
  const kept = process.execArgv.filter((arg) => !CHILD_FLAG_DROPPED.test(arg));
  // A flag the daemon was started with (e.g. another semi-space size) wins over the default.
  const flagName = (arg: string) => arg.split('=')[0];
  const defaults = CHILD_FLAGS.filter((flag) => !kept.some((arg) => flagName(arg) === flagName(flag)));
  return [...defaults, ...kept];
}

/**
 * The daemon's side of the plugin-host child process: requests with ids and timeouts over IPC.
 * Records cross as JSON text each way, in pieces of 128 records (toJsonPieces): V8-serializing
 * 1000 record objects costs several times what a string copy does, and V8 would map and unmap
 * one string per batch. A child that dies fails the requests in flight with E_PLUGIN_HOST_DIED
 * and is restarted with backoff.
 */
export class PluginHost {
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #restartInitialMs: number;
  readonly #restartMaxMs: number;
  readonly #onRestart: (() => Promise<void>) | undefined;
  readonly #onLog: ((entry: PluginLogEntry) => void) | undefined;
  readonly #onFatal: ((plugin: string, message: string) => void) | undefined;
  readonly #pending = new Map<number, Pending>();
  #child: ChildProcess | undefined;
  #ready: Promise<void> | undefined;
  #nextId = 1;
  #deaths = 0;
  #restarts = 0;
  #startedAt = 0;
  #cancelRestart: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PluginHostOptions) {
    this.#logger = options.logger;
    this.#timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#restartInitialMs = options.restartInitialMs ?? 500;
    this.#restartMaxMs = options.restartMaxMs ?? 30_000;
    this.#onRestart = options.onRestart;
    this.#onLog = options.onLog;
    this.#onFatal = options.onFatal;
  }

  /** Pid of the current child, if one is running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Times the child was restarted after dying. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Forks the child and waits until it is ready. Safe to call twice. */
  start(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(hostClosed());
    this.#ready ??= this.#spawn();
    return this.#ready;
  }

  load(spec: LoadSpec): Promise<void> {
    return this.#request({ op: 'load', spec }) as Promise<void>;
  }

  unload(name: string): Promise<void> {
    return this.#request({ op: 'unload', name }) as Promise<void>;
  }

  /**
   * Runs one capability call. Records cross the plugin host as JSON pieces; what the plugin produced
   * is decoded and checked here (readPluginOutput), so a bad record fails with E_PLUGIN_OUTPUT.
   */
  async call(name: string, method: CallMethod, input?: unknown): Promise<OutpostRecord[]> {
    const pieces = input === undefined ? undefined : toJsonPieces(input);
    const output = (await this.#request({ op: 'call', name, method, input: pieces })) as PluginOutput;
    try {
      return readPluginOutput(output);
    } catch (err) {
      throw asOutpostError(err);
    }
  }

  stats(): Promise<Record<string, SandboxReport>> {
    return this.#request({ op: 'stats' }) as Promise<Record<string, SandboxReport>>;
  }

  /** Stops the plugins (their stop() hooks), ends the child. Same promise every time. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#cancelRestart?.();
    await this.#ready?.catch(() => {});
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    await this.#send({ op: 'shutdown' }, Math.min(this.#timeoutMs, 15_000)).catch(() => {});
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    killer.unref();
    await exited;
    clearTimeout(killer);
  }

  #spawn(): Promise<void> {
    const child = fork(HOST_MAIN, [], {
      execArgv: childExecArgv(),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    return new Promise<void>((resolve, reject) => {
      const onEarlyExit = (code: number | null, signal: string | null) => {
        if (this.#child === child) this.#child = undefined;
        reject(hostDied(`exited before it was ready: code ${code}, signal ${signal}`));
      };
      child.once('exit', onEarlyExit);
      child.on('message', (message: HostMessage) => {
        if (message.type === 'ready') {
          child.off('exit', onEarlyExit);
          child.once('exit', (code, signal) => this.#onExit(child, code, signal));
          this.#startedAt = performance.now();
          resolve();
          return;
        }
        this.#onMessage(message);
      });
      child.once('error', (err) => this.#logger.error({ err }, 'plugin host process error'));
    });
  }

  #onMessage(message: HostMessage): void {
    if (message.type === 'log') {
      if (this.#onLog) this.#onLog(message.entry);
      else this.#logger[message.entry.level]({ plugin: message.entry.plugin }, message.entry.message);
      return;
    }
    if (message.type === 'fatal') {
      this.#logger.error({ plugin: message.plugin, err: message.message }, 'plugin crashed the plugin host');
      this.#onFatal?.(message.plugin, message.message);
      return;
    }
    if (message.type !== 'reply') return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(remoteError(message.error));
  }

  #onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (this.#child === child) this.#child = undefined;
    const reason = signal === null ? `exit code ${code}` : `signal ${signal}`;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(hostDied(reason));
    }
    if (this.#closing !== undefined) return;
    // A child that stayed up a while had a transient problem: start the backoff over.
    if (performance.now() - this.#startedAt > this.#restartMaxMs) this.#deaths = 0;
    this.#scheduleRestart(reason);
  }

  #scheduleRestart(reason: string): void {
    const delay = Math.min(this.#restartInitialMs * 2 ** this.#deaths, this.#restartMaxMs);
    this.#deaths++;
    this.#logger.warn({ reason, restartInMs: delay }, 'plugin host process died; restarting it');
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#cancelRestart = undefined;
        this.#spawn().then(
          async () => {
            this.#restarts++;
            await this.#onRestart?.().catch((err: unknown) => {
              this.#logger.error({ err }, 'reloading plugins after a plugin host restart failed');
            });
            resolve();
          },
          (err: unknown) => {
            // Keep trying: without the host, no plugin runs at all.
            if (this.#closing === undefined) this.#scheduleRestart((err as Error).message);
            reject(err);
          },
        );
      }, delay);
      timer.unref();
      this.#cancelRestart = () => {
        clearTimeout(timer);
        reject(hostClosed());
      };
    });
    ready.catch((err: unknown) => {
      this.#logger.error({ err }, 'plugin host restart failed');
    });
    this.#ready = ready;
  }

  async #request(request: Request): Promise<unknown> {
    if (this.#closing !== undefined) throw hostClosed();
    if (this.#ready === undefined) throw hostDied('not started');
    if (this.#child === undefined) throw hostDied('restarting');
    return this.#send(request, this.#timeoutMs);
  }

  #send(request: Request, timeoutMs: number): Promise<unknown> {
    const child = this.#child;
    if (child === undefined || !child.connected) return Promise.reject(hostDied('not connected'));
    const id = this.#nextId++;
    const op = request.op;
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(hostTimeout(op, timeoutMs));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
    });
    // No closure here may hold `request`: while the timer and send callbacks did, the records'
    // JSON of every call ended up in V8's old generation (measured: a full GC every ~100 batches
    // of 1000, about 0.3 us of daemon CPU per record).
    const failed = (err: Error) => {
      const pending = this.#pending.get(id);
      if (pending === undefined) return;
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(hostDied(`send failed: ${err.message}`));
    };
    try {
      child.send({ ...request, id } as HostRequest, (err) => {
        if (err !== null) failed(err);
      });
    } catch (err) {
      failed(err as Error);
    }
    return reply;
  }
}
