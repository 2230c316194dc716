import { spawn } from 'node:child_process';

/** Where the one warning goes: a pino logger, or anything with its warn(details, message). */
export interface NotifierLogger {
  warn(details: object, message: string): void;
}

export interface ServiceNotifierOptions {
  /**
   * Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID come from (process.env unless given). They
   * are removed from it, as sd_notify's unset_environment does, so that no child process (the plugin
   * host, an upgrade) inherits the right to speak for the service under NotifyAccess=all.
   */
  env?: NodeJS.ProcessEnv;
  /** The program that sends each message; systemd-notify from PATH unless given. */
  command?: string;
  logger: NotifierLogger;
}

/** A systemd-notify stuck on a dead manager must not hold shutdown: its own barrier waits 5 s. */
const SEND_TIMEOUT_MS = 10_000;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Tells systemd (Type=notify) where the daemon is in its life: READY, RELOADING, STOPPING and
 * WATCHDOG pings. Node has no unix datagram socket, so each message is one `systemd-notify
 * VAR=value...` child. Without --no-block it waits (sd_notify_barrier, systemd >= 246) until the
 * manager has read the message, while the child still lives: with NotifyAccess=all the manager can
 * then attribute it to the unit. One child at a time keeps the messages in order. Without
 * NOTIFY_SOCKET (not started by systemd as Type=notify) it does nothing at all.
 */
export class ServiceNotifier {
  readonly #socket: string | undefined;
  readonly #path: string;
  readonly #command: string;
  readonly #logger: NotifierLogger;
  readonly #pending: string[][] = [];
  #sending: Promise<void> | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #warned = false;
  #missing = false;
  #closing: Promise<void> | null = null;

  constructor(options: ServiceNotifierOptions) {
    const env = options.env ?? process.env;
    const socket = env.NOTIFY_SOCKET;
    this.#socket = socket === undefined || socket === '' ? undefined : socket;
    this.#path = env.PATH ?? DEFAULT_PATH;
    this.#command = options.command ?? 'systemd-notify';
    this.#logger = options.logger;
    const interval = watchdogIntervalMs(env);
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    if (this.#socket !== undefined && interval !== null) {
      // A timer, not a worker: a blocked event loop stops the pings, which is what the watchdog is for.
      this.#watchdog = setInterval(() => this.#send(['WATCHDOG=1']), interval);
      this.#watchdog.unref();
    }
  }

  /** Whether the daemon runs under a manager that listens (NOTIFY_SOCKET was set). */
  get enabled(): boolean {
    return this.#socket !== undefined;
  }

  /** The daemon serves: start-up or a reload is complete. */
  ready(status: string): void {
    this.#send(['READY=1', `STATUS=${status}`]);
  }

  /** A reload starts; ready() must follow when it is done. */
  reloading(status = 'reloading the config'): void {
    this.#send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, `STATUS=${status}`]);
  }

  /** Shutdown starts: no more watchdog pings, systemd waits for the exit (TimeoutStopSec). */
  stopping(status = 'stopping'): void {
    this.#stopWatchdog();
    this.#send(['STOPPING=1', `STATUS=${status}`]);
  }

  /** Stops the watchdog and waits until the messages already given have been sent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopWatchdog();
      while (this.#sending) await this.#sending;
    })();
    return this.#closing;
  }

  // Silently dropped after close(): the daemon is gone as far as systemd cares, and a throw here
  // would turn a late lifecycle step into a crash.
  #send(vars: string[]): void {
    if (this.#socket === undefined || this.#closing || this.#missing) return;
    // A ping waiting behind a slow one says nothing more: keep the queue from growing.
    if (vars[0] === 'WATCHDOG=1' && this.#pending.some((queued) => queued[0] === 'WATCHDOG=1')) return;
    this.#pending.push(vars);
    this.#sending ??= this.#drain();
  }

  async #drain(): Promise<void> {
    for (let next = this.#pending.shift(); next; next = this.#pending.shift()) {
      const failure = await this.#run(next);
      if (failure) this.#warnOnce(next, failure);
      if (this.#missing) this.#pending.length = 0;
    }
    this.#sending = null;
  }

  /** Runs one systemd-notify; resolves with why it failed, or null. Never rejects. */
  #run(vars: string[]): Promise<string | null> {
    return new Promise((resolve) => {
      const child = spawn(this.#command, vars, {
        env: { PATH: this.#path, NOTIFY_SOCKET: this.#socket },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      // Not spawn's own `timeout`: its timer is never cleared when the program does not exist and
      // would hold the process open that long.
      const timer = setTimeout(() => child.kill('SIGKILL'), SEND_TIMEOUT_MS);
      timer.unref();
      const done = (failure: string | null) => {
        clearTimeout(timer);
        resolve(failure);
      };
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') this.#missing = true;
        done(
          err.code === 'ENOENT'
            ? `${this.#command} is not installed${this.#command.includes('/') ? '' : ` (not on PATH ${this.#path})`}`
            : `${this.#command} could not run: ${err.message}`,
        );
      });
      child.once('close', (code, signal) => {
        if (code === 0) done(null);
        else if (signal)
          done(`${this.#command} was killed by ${signal} (no answer within ${SEND_TIMEOUT_MS} ms)`);
        else done(`${this.#command} exited with ${code}: ${stderr.trim() || 'no message'}`);
      });
    });
  }

  #warnOnce(vars: string[], reason: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#logger.warn(
      { message: vars.join(' '), notifySocket: this.#socket },
      `cannot notify systemd (${reason}); the daemon keeps running, but systemd may not see it as started, reloaded or alive: install systemd-notify, or reinstall the unit on this host so that it is Type=exec (further failures are not logged)`,
    );
  }

  #stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }
}

/**
 * Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; null when there is no watchdog or it
 * is meant for another process (WATCHDOG_PID).
 */
function watchdogIntervalMs(env: NodeJS.ProcessEnv): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== process.pid) {
    return null;
  }
  return Math.max(1, Math.floor(usec / 2000));
}

/** libuv's hrtime reads CLOCK_MONOTONIC on Linux, the clock MONOTONIC_USEC is defined on. */
function monotonicUsec(): string {
  return String(process.hrtime.bigint() / 1000n);
}
