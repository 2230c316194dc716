export interface PassRunnerOptions {
  /** One pass over the work (an alert evaluation, a delivery round). */
  run: () => Promise<unknown>;
  /** A pass is also requested this often; the timer never holds the process open. */
  intervalMs: number;
  /** A pass that failed; not called after close(), when the store underneath may be gone. */
  onError: (err: unknown) => void;
  /** A pass that follows another starts at least this long after the previous one started. */
  minSpacingMs?: number | undefined;
}

/**
 * Runs passes on request and on a timer, never two at once: a request during a pass runs one more
 * pass after it (it may have come too late for the running one to see), so a burst of requests
 * costs at most two passes.
 */
export class PassRunner {
  readonly #options: PassRunnerOptions;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;
  #again = false;
  #closed: Promise<void> | undefined;

  constructor(options: PassRunnerOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.request(), options.intervalMs);
    this.#timer.unref();
  }

  /** Schedules a pass; never waits for it. */
  request(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    const started = Date.now();
    this.#running = this.#options
      .run()
      .catch((err: unknown) => {
        if (!this.#closed) this.#options.onError(err);
      })
      .then(async () => {
        const wait = (this.#options.minSpacingMs ?? 0) - (Date.now() - started);
        if (!this.#again || this.#closed || wait <= 0) return;
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
  }

  /** Stops the timer and waits for the pass in progress; later requests are ignored. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      await this.#running;
    })();
    return this.#closed;
  }
}
