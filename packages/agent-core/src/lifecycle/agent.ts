import { join } from 'node:path';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import type { LevelWithSilent, Logger } from 'pino';
import { createInputs, type Input } from '../collect/index.ts';
import { type AgentConfig, type LoadedConfig, loadConfig } from '../config/index.ts';
import { ControlServer } from '../control/index.ts';
import { isOutpostError } from '../errors.ts';
import { CollectorLink } from '../fleet/index.ts';
import { createLogger } from '../log/index.ts';
import { Queue } from '../queue/index.ts';
import { HttpTransport, RetryPolicy, Sender } from '../send/index.ts';
import { AGENT_VERSION } from '../version.ts';
import { agentClosed, agentStarting } from './errors.ts';
import { SelfUsage } from './self-usage.ts';

export interface AgentStartOptions {
  /** Config file; without it /etc/outpost/agent.yaml if present, else built-in defaults. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides log.level from the config (the --log-level flag). */
  logLevel?: LevelWithSilent;
  logger?: Logger;
}

export interface ReloadResult {
  applied: boolean;
  configVersion: string;
  error?: { code: string; message: string };
  /** Changed settings that only take effect after a restart. */
  needsRestart: string[];
}

/** Sections whose change is applied by rebuilding that part of the pipeline. */
const SENDER_SECTIONS = ['collector', 'send', 'heartbeat', 'agent'] as const;
/** Sections held by resources opened once per process. */
const RESTART_ONLY = [
  ['agent.state_dir', (c: AgentConfig) => c.agent.state_dir],
  ['control.socket', (c: AgentConfig) => c.control.socket],
  ['queue', (c: AgentConfig) => c.queue],
] as const;

/**
 * The daemon: inputs emit records, the queue makes them durable, the sender ships them, and the
 * collector link keeps the agent registered and reporting. start() wires them in that order and
 * close() takes them down in the same order, so nothing accepted is lost.
 */
export class Agent {
  readonly #options: AgentStartOptions;
  readonly #logger: Logger;
  readonly #queue: Queue;
  readonly #startedAt = Date.now();
  readonly #selfUsage = new SelfUsage();
  #loaded: LoadedConfig;
  #control: ControlServer | null = null;
  #inputs: Input[] = [];
  #link: CollectorLink | null = null;
  #sender: Sender | null = null;
  #rejected = 0;
  #lastRejectLog = 0;
  #reloading: Promise<ReloadResult> | null = null;
  #closing: Promise<void> | null = null;

  private constructor(options: AgentStartOptions, loaded: LoadedConfig, logger: Logger, queue: Queue) {
    this.#options = options;
    this.#loaded = loaded;
    this.#logger = logger;
    this.#queue = queue;
  }

  static async start(options: AgentStartOptions = {}): Promise<Agent> {
    const loaded = await loadConfig({ path: options.configPath, env: options.env ?? process.env });
    const { config } = loaded;
    const logger =
      options.logger ?? createLogger({ level: options.logLevel ?? config.log.level, name: 'outpost-agent' });

    let agent: Agent | null = null;
    const started = (): Agent => {
      if (!agent) throw agentStarting();
      return agent;
    };
    // The control socket doubles as the single-instance lock: two agents must never share a queue.
    const control = await ControlServer.listen({
      socketPath: config.control.socket,
      routes: {
        'GET /v1/status': () => started().status(),
        'POST /v1/reload': () => started().reload(),
        'POST /v1/flush': () => started().flush(),
      },
      logger,
    });
    let queue: Queue;
    try {
      queue = Queue.open({
        path: join(config.agent.state_dir, 'queue.db'),
        maxBytes: config.queue.max_bytes,
        maxAgeMs: config.queue.max_age,
        policy: config.queue.policy,
        durability: config.queue.durability,
        logger,
      });
    } catch (err) {
      await control.close();
      throw err;
    }
    const self = new Agent(options, loaded, logger, queue);
    self.#control = control;
    self.#startSending(config);
    self.#startInputs(config);
    agent = self;
    logger.info(
      {
        version: AGENT_VERSION,
        config: loaded.path ?? '(built-in defaults)',
        configVersion: loaded.version,
        stateDir: config.agent.state_dir,
        socket: config.control.socket,
        collector: config.collector.url,
      },
      'agent started',
    );
    return self;
  }

  get config(): AgentConfig {
    return this.#loaded.config;
  }

  /** Re-reads the config file and applies what changed; an invalid file leaves everything as it was. */
  reload(): Promise<ReloadResult> {
    if (this.#closing) return Promise.reject(agentClosed());
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  /** Sends everything queued now, within the shutdown grace period. */
  async flush(): Promise<{ sent: number; remaining: number }> {
    if (this.#closing || !this.#sender) throw agentClosed();
    return this.#sender.flush({ deadlineMs: Date.now() + this.config.shutdown.grace_period });
  }

  status() {
    const config = this.config;
    return {
      agent: {
        version: AGENT_VERSION,
        pid: process.pid,
        startedAt: this.#startedAt,
        uptimeSec: (Date.now() - this.#startedAt) / 1000,
        hostname: config.agent.hostname,
        labels: config.agent.labels,
        stateDir: config.agent.state_dir,
        configPath: this.#loaded.path,
        configVersion: this.#loaded.version,
        socket: config.control.socket,
      },
      collector: this.#link?.status() ?? null,
      queue: this.#queue.stats(),
      sender: this.#sender?.stats() ?? null,
      inputs: this.#inputs.map((input) => ({ name: input.name, ...input.stats() })),
      accept: { rejected: this.#rejected },
      process: this.#selfUsage.read(),
    };
  }

  /** Stops inputs, sends what it can within the grace period, then closes the queue. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const graceMs = this.config.shutdown.grace_period;
      this.#logger.info(
        { graceMs },
        'agent stopping: inputs stop, pending records are sent within the grace period',
      );
      await this.#reloading?.catch(() => undefined);
      await Promise.allSettled(this.#inputs.map((input) => input.close()));
      await this.#sender?.close({ graceMs });
      await this.#link?.close();
      const left = this.#queue.stats();
      await this.#queue.close();
      await this.#control?.close();
      this.#logger.info({ unsentRecords: left.depth }, 'agent stopped');
    })();
    return this.#closing;
  }

  /** Commits records (and input cursors) to the queue; false when the queue is full under "block". */
  async #accept(
    records: OutpostRecord[],
    options: { cursors?: Record<string, string | null> } = {},
  ): Promise<boolean> {
    if (this.#closing) return false;
    try {
      this.#queue.enqueue(records, options);
      return true;
    } catch (err) {
      if (!isOutpostError(err, 'E_QUEUE_FULL')) throw err;
      this.#rejected += records.length;
      // One line a minute is enough to say the queue is full; the counter has the rest.
      if (Date.now() - this.#lastRejectLog > 60_000) {
        this.#lastRejectLog = Date.now();
        this.#logger.warn({ err, rejected: this.#rejected }, 'queue full: records from inputs are refused');
      }
      return false;
    }
  }

  #startInputs(config: AgentConfig): void {
    this.#inputs = createInputs(config.inputs, {
      emit: (records, options) => this.#accept(records, options),
      logger: this.#logger,
    });
    for (const input of this.#inputs) input.start();
  }

  #startSending(config: AgentConfig): void {
    const retry = new RetryPolicy({
      initialBackoffMs: config.send.retry.initial_backoff,
      maxBackoffMs: config.send.retry.max_backoff,
      maxRetryAfterMs: config.send.retry.max_retry_after,
    });
    const link = new CollectorLink({
      url: config.collector.url,
      enrollmentToken: config.collector.enrollment_token,
      stateDir: config.agent.state_dir,
      hostname: config.agent.hostname,
      labels: config.agent.labels,
      version: AGENT_VERSION,
      heartbeatIntervalMs: config.heartbeat.interval,
      requestTimeoutMs: config.collector.request_timeout,
      backoff: (attempt) => retry.delayFor(attempt),
      status: () => this.#heartbeatStatus(),
      onHeartbeatAnswer: (answer) => this.#sender?.setMinSendInterval(answer.minSendIntervalMs ?? null),
      logger: this.#logger,
    });
    const sender = new Sender({
      source: this.#queue,
      transport: new HttpTransport({ url: config.collector.url, logger: this.#logger }),
      identity: () => link.identity(),
      onUnauthorized: () => link.renewIdentity(),
      batchMaxRecords: config.send.batch_max_records,
      batchMaxBytes: config.send.batch_max_bytes,
      batchMaxWaitMs: config.send.batch_max_wait,
      compression: config.send.compression,
      retry,
      requestTimeoutMs: config.collector.request_timeout,
      logger: this.#logger,
    });
    this.#link = link;
    this.#sender = sender;
    link.start();
    sender.start();
  }

  #heartbeatStatus() {
    const queue = this.#queue.stats();
    const usage = this.#selfUsage.read();
    return {
      version: AGENT_VERSION,
      uptimeSec: (Date.now() - this.#startedAt) / 1000,
      configVersion: this.#loaded.version,
      queue: {
        depth: queue.depth,
        bytes: queue.bytes,
        dropped: Object.values(queue.dropped).reduce((sum, n) => sum + n, 0),
        deadLetter: queue.deadLetter,
      },
      cpuPercent: usage.cpuPercent,
      rssBytes: usage.rssBytes,
      lastSendAt: this.#sender?.stats().lastSendAt ?? null,
      plugins: [],
    };
  }

  async #reload(): Promise<ReloadResult> {
    const previous = this.#loaded;
    let next: LoadedConfig;
    try {
      next = await loadConfig({
        path: previous.path ?? this.#options.configPath,
        env: this.#options.env ?? process.env,
      });
    } catch (err) {
      const error = isOutpostError(err)
        ? { code: err.code, message: err.message }
        : { code: 'E_RELOAD', message: String(err) };
      this.#logger.error({ err }, 'reload refused: the new config is invalid, the running config stays');
      return { applied: false, configVersion: previous.version, error, needsRestart: [] };
    }
    const before = previous.config;
    const after = next.config;
    const needsRestart = RESTART_ONLY.filter(([, pick]) => !sameJson(pick(before), pick(after))).map(
      ([key]) => key,
    );
    // Settings held by open resources stay as they are until a restart; the rest apply now.
    const applied: AgentConfig = {
      ...after,
      agent: { ...after.agent, state_dir: before.agent.state_dir },
      control: before.control,
      queue: before.queue,
    };
    this.#loaded = { ...next, config: applied };
    if (!this.#options.logLevel) this.#logger.level = applied.log.level;
    if (!sameJson(before.inputs, applied.inputs)) {
      await Promise.allSettled(this.#inputs.map((input) => input.close()));
      this.#startInputs(applied);
    }
    if (SENDER_SECTIONS.some((key) => !sameJson(before[key], applied[key]))) {
      // Closing with no grace releases the batch in flight back to the queue; the new sender resends it.
      await this.#sender?.close({ graceMs: 0 });
      await this.#link?.close();
      this.#startSending(applied);
    }
    if (needsRestart.length > 0) {
      this.#logger.warn({ needsRestart }, 'reload: these settings change only after a restart');
    }
    this.#logger.info({ configVersion: next.version, previousVersion: previous.version }, 'config reloaded');
    return { applied: true, configVersion: next.version, needsRestart };
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export type AgentStatus = ReturnType<Agent['status']>;
