import { join } from 'node:path';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import picomatch from 'picomatch';
import type { LevelWithSilent, Logger } from 'pino';
import { createInputs, type Input, parsePushedRecords } from '../collect/index.ts';
import type { AgentConfig, LoadedConfig } from '../config/index.ts';
import {
  badRequest,
  ControlServer,
  type ControlStream,
  type StreamReply,
  streamReply,
  type TextReply,
  textReply,
} from '../control/index.ts';
import { isOutpostError } from '../errors.ts';
import {
  CollectorLink,
  FleetController,
  loadEffectiveConfig,
  type RemoteConfigError,
  setAsideRemoteConfig,
} from '../fleet/index.ts';
import { createLogger, type LogFormat } from '../log/index.ts';
import { PluginRuntime, pluginRoutes, registerPluginMetrics } from '../plugins/index.ts';
import { Pipeline } from '../process/index.ts';
import { Queue } from '../queue/index.ts';
import { HttpTransport, RetryPolicy, Sender } from '../send/index.ts';
import type { ServiceNotifier } from '../service/index.ts';
import { AgentTelemetry, defineScrapedMetric, METRIC_PREFIX, MetricsListener } from '../telemetry/index.ts';
import { AGENT_VERSION } from '../version.ts';
import { agentClosed, agentStarting, badBatchParam } from './errors.ts';
import { OldSpaceCap } from './old-space-cap.ts';
import { type LoadShedding, ResourceGuard } from './resource-guard.ts';
import { SelfUsage } from './self-usage.ts';
import { type TopSnapshot, topPlugins } from './top.ts';

export interface AgentStartOptions {
  /** Config file; without it /etc/outpost/agent.yaml if present, else built-in defaults. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides log.level from the config (the --log-level flag). */
  logLevel?: LevelWithSilent;
  /** Overrides log.format from the config (the --log-format flag). */
  logFormat?: LogFormat;
  logger?: Logger;
  /** Called after close() when a fleet command (stop, upgrade) ended the agent; the CLI exits with `code`. */
  onExit?: (code: number) => void;
  /** Told when the agent serves, reloads and stops (systemd Type=notify); the caller closes it. */
  notifier?: Pick<ServiceNotifier, 'ready' | 'reloading' | 'stopping'>;
}

export interface ReloadResult {
  applied: boolean;
  configVersion: string;
  error?: { code: string; message: string };
  /** Changed settings that only take effect after a restart. */
  needsRestart: string[];
}

/** Queue errors that refuse records without losing anything already stored: the inputs are told. */
const REFUSALS: Record<string, 'queue_full' | 'disk_full' | 'io_error'> = {
  E_QUEUE_FULL: 'queue_full',
  E_QUEUE_DISK_FULL: 'disk_full',
  E_QUEUE_IO: 'io_error',
};

/** Sections whose change is applied by rebuilding that part of the pipeline. */
const SENDER_SECTIONS = ['collector', 'send', 'heartbeat', 'agent'] as const;
/** Sections held by resources opened once per process. */
const RESTART_ONLY = [
  ['agent.state_dir', (c: AgentConfig) => c.agent.state_dir],
  ['control.socket', (c: AgentConfig) => c.control.socket],
  ['queue', (c: AgentConfig) => c.queue],
  ['plugins.enabled', (c: AgentConfig) => c.plugins.enabled],
  ['plugins.dir', (c: AgentConfig) => c.plugins.dir],
  ['limits', (c: AgentConfig) => c.limits],
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
  #pipeline: Pipeline | null = null;
  /** Open `agentctl tap` streams; a new processor chain ends them (their stage may be gone). */
  readonly #taps = new Set<ControlStream>();
  #link: CollectorLink | null = null;
  #sender: Sender | null = null;
  /** Records the queue refused, by why: the inputs were told (emit resolved false). */
  readonly #refused = { queue_full: 0, disk_full: 0, io_error: 0 };
  readonly #lastRefusalLog = new Map<string, number>();
  #pushed = 0;
  #reloading: Promise<ReloadResult> | null = null;
  #closing: Promise<void> | null = null;
  readonly #telemetry = new AgentTelemetry({ snapshot: () => this.status() });
  #guard: ResourceGuard | null = null;
  #oldSpaceCap: OldSpaceCap | null = null;
  #plugins: PluginRuntime | null = null;
  #metricsListener: MetricsListener | null = null;
  #fleet: FleetController | null = null;
  /** The collector-assigned config laid over the file, if any, and why a stored one is not in effect. */
  #remote: { version: string | null; error: RemoteConfigError | null } = { version: null, error: null };

  private constructor(options: AgentStartOptions, loaded: LoadedConfig, logger: Logger, queue: Queue) {
    this.#options = options;
    this.#loaded = loaded;
    this.#logger = logger;
    this.#queue = queue;
  }

  static async start(options: AgentStartOptions = {}): Promise<Agent> {
    const effective = await loadEffectiveConfig({
      path: options.configPath,
      env: options.env ?? process.env,
    });
    const { loaded } = effective;
    const { config } = loaded;
    const logger =
      options.logger ??
      createLogger({
        level: options.logLevel ?? config.log.level,
        format: options.logFormat ?? config.log.format,
        name: 'outpost-agent',
      });

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
        'GET /metrics': () => started().metrics(),
        'GET /v1/top': () => started().top(),
        'GET /v1/queue': () => started().queueStatus(),
        'GET /v1/tap': (req) => started().tap(req.query),
        'POST /v1/records': (req) => started().push(parsePushedRecords(req.body)),
        'POST /v1/queue/dead-letter/retry': (req) => started().retryDeadLetter(batchParam(req.query)),
        'POST /v1/queue/dead-letter/purge': (req) => started().purgeDeadLetter(batchParam(req.query)),
        ...pluginRoutes(
          () => started().plugins,
          () => started().collectorLink(),
        ),
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
    self.#remote = { version: effective.remoteVersion, error: effective.remoteError };
    self.#fleet = self.#createFleet(config);
    self.#startSending(config);
    try {
      await self.#startPlugins(config);
      self.#pipeline = self.#createPipeline(config);
      self.#startInputs(config);
      self.#startGuard(config);
      self.#startOldSpaceCap();
      await self.#listenForMetrics(config.metrics.listen);
    } catch (err) {
      await self.close();
      // A remote config that stops the agent from starting would restart it into the same failure
      // forever; the next start runs on the host's file and fetches the config again.
      if (effective.remoteVersion !== null) setAsideRemoteConfig(config.agent.state_dir, logger);
      throw err;
    }
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
    options.notifier?.ready(`running config ${loaded.version}; control socket ${config.control.socket}`);
    return self;
  }

  /** The plugin runtime (install, enable, configure, list, ...); null when plugins.enabled is false. */
  get plugins(): PluginRuntime | null {
    return this.#plugins;
  }

  get config(): AgentConfig {
    return this.#loaded.config;
  }

  /** Re-reads the config file and applies what changed; an invalid file leaves everything as it was. */
  reload(): Promise<ReloadResult> {
    if (this.#closing) return Promise.reject(agentClosed());
    if (!this.#reloading) this.#options.notifier?.reloading();
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = null;
      if (!this.#closing) this.#options.notifier?.ready(`running config ${this.#loaded.version}`);
    });
    return this.#reloading;
  }

  /** Self-metrics in Prometheus text form (GET /metrics on the control socket and metrics.listen). */
  async metrics(): Promise<TextReply> {
    if (this.#closing) throw agentClosed();
    return textReply(await this.#telemetry.metrics(), this.#telemetry.contentType);
  }

  /** Sends everything queued now, within the shutdown grace period. */
  async flush(): Promise<{ sent: number; remaining: number }> {
    if (this.#closing || !this.#sender) throw agentClosed();
    return this.#sender.flush({ deadlineMs: Date.now() + this.config.shutdown.grace_period });
  }

  /**
   * Records pushed from the host (agentctl emit): answered only once they are committed, so a
   * success means they are durable. A full queue under "block" refuses them with E_QUEUE_FULL.
   */
  async push(records: OutpostRecord[]): Promise<{ accepted: number }> {
    if (this.#closing || !this.#pipeline) throw agentClosed();
    const processed = await this.#pipeline.process(records);
    this.#queue.enqueue(processed);
    this.#plugins?.observe(processed);
    this.#pushed += records.length;
    return { accepted: records.length };
  }

  /**
   * Live records at one point of the pipeline ('input', a stage name, or 'output'), filtered by
   * kind, name (a glob) and source, as an NDJSON stream for `agentctl tap`.
   */
  tap(query: URLSearchParams): StreamReply {
    const pipeline = this.#pipeline;
    if (this.#closing || !pipeline) throw agentClosed();
    const stage = query.get('stage') ?? 'output';
    const points = ['input', ...pipeline.stages(), 'output'];
    if (!points.includes(stage)) {
      throw badRequest(`no pipeline stage "${stage}"; taps can follow: ${points.join(', ')}`);
    }
    const kind = query.get('kind');
    const source = query.get('source');
    const name = query.get('name');
    const nameMatch = name === null ? null : picomatch(name, { dot: true });
    return streamReply((stream) => {
      const off = pipeline.tap(stage, (records) => {
        for (const r of records) {
          if (kind !== null && r.kind !== kind) continue;
          if (source !== null && r.source !== source) continue;
          if (nameMatch !== null && !nameMatch(r.name)) continue;
          stream.write(r);
        }
      });
      this.#taps.add(stream);
      stream.signal.addEventListener('abort', () => {
        off();
        this.#taps.delete(stream);
      });
    });
  }

  /** Queue figures and the dead-lettered batches, for `agentctl queue`. */
  queueStatus() {
    if (this.#closing) throw agentClosed();
    return {
      path: join(this.config.agent.state_dir, 'queue.db'),
      stats: this.#queue.stats(),
      deadLetters: this.#queue.deadLetters({ limit: 100, sample: 3 }),
    };
  }

  retryDeadLetter(batchSeq: number | undefined): { retried: number } {
    if (this.#closing) throw agentClosed();
    return { retried: this.#queue.retryDeadLetter(batchSeq) };
  }

  purgeDeadLetter(batchSeq: number | undefined): { purged: number } {
    if (this.#closing) throw agentClosed();
    return { purged: this.#queue.purgeDeadLetter(batchSeq) };
  }

  /** The link to the collector, for installs from its plugin store; null between two during a reload. */
  collectorLink(): CollectorLink | null {
    return this.#link;
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
        remoteConfig: this.#fleet?.status().remoteConfig ?? null,
        socket: config.control.socket,
      },
      collector: this.#link?.status() ?? null,
      queue: this.#queue.stats(),
      sender: this.#sender?.stats() ?? null,
      inputs: this.#inputs.map((input) => ({ name: input.name, ...input.stats() })),
      pipeline: this.#pipeline?.stats() ?? [],
      accept: { refused: { ...this.#refused }, pushed: this.#pushed },
      process: this.#selfUsage.read(),
      guard: this.#guard?.status() ?? null,
      /** null when plugins.enabled is false. */
      plugins: this.#plugins?.list() ?? null,
    };
  }

  /** Cumulative figures for `agentctl top`, which turns two of them into rates. */
  async top(): Promise<TopSnapshot> {
    if (this.#closing) throw agentClosed();
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const queue = this.#queue.stats();
    return {
      at: Date.now(),
      pid: process.pid,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      queue: {
        depth: queue.depth,
        bytes: queue.bytes,
        dropped: Object.values(queue.dropped).reduce((sum, n) => sum + n, 0),
        enqueued: queue.enqueued,
        acked: queue.acked,
      },
      inputs: this.#inputs.map((input) => {
        const { runs, errors, records, lastDurationMs } = input.stats();
        return { name: input.name, runs, errors, records, lastDurationMs };
      }),
      stages: this.#pipeline?.stats() ?? [],
      plugins: this.#plugins ? topPlugins(this.#plugins.list()) : null,
      guard: this.#guard?.status() ?? null,
    };
  }

  /** Stops inputs, sends what it can within the grace period, then closes the queue. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#options.notifier?.stopping('stopping: sending what is queued within the grace period');
      const graceMs = this.config.shutdown.grace_period;
      this.#logger.info(
        { graceMs },
        'agent stopping: inputs stop, pending records are sent within the grace period',
      );
      await this.#fleet?.close();
      await this.#reloading?.catch(() => undefined);
      await this.#guard?.close();
      await this.#oldSpaceCap?.close();
      await Promise.allSettled(this.#inputs.map((input) => input.close()));
      await this.#plugins?.quiesce();
      // Open aggregate windows go into the queue before the last send.
      await this.#pipeline?.close();
      // Rule and action plugins finish what the last records gave them before the last send.
      await this.#plugins?.close();
      await this.#sender?.close({ graceMs });
      await this.#link?.close();
      const left = this.#queue.stats();
      await this.#queue.close();
      await this.#metricsListener?.close();
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
    if (this.#closing || !this.#pipeline) return false;
    const processed = await this.#pipeline.process(records);
    return this.#enqueue(processed, options);
  }

  /** The end of the pipeline: records (and cursors) into the queue. */
  #enqueue(records: OutpostRecord[], options: { cursors?: Record<string, string | null> } = {}): boolean {
    try {
      this.#queue.enqueue(records, options);
      this.#plugins?.observe(records);
      return true;
    } catch (err) {
      const reason = REFUSALS[isOutpostError(err) ? err.code : ''];
      if (reason === undefined) throw err;
      this.#refused[reason] += records.length;
      // One line a minute per reason is enough; the counters have the rest.
      const now = Date.now();
      if (now - (this.#lastRefusalLog.get(reason) ?? 0) > 60_000) {
        this.#lastRefusalLog.set(reason, now);
        this.#logger.warn(
          { err, refused: this.#refused },
          `records from inputs are refused: ${(err as Error).message}`,
        );
      }
      return false;
    }
  }

  /** Serves /metrics on `listen` (loopback host:port), replacing the previous listener; null stops it. */
  async #listenForMetrics(listen: string | null): Promise<void> {
    const previous = this.#metricsListener;
    this.#metricsListener = null;
    await previous?.close();
    if (listen === null) return;
    this.#metricsListener = await MetricsListener.listen({
      listen,
      source: this.#telemetry,
      logger: this.#logger,
    });
  }

  /** Plugins run beside the inputs; a plugin host that cannot start leaves the rest of the agent running. */
  async #startPlugins(config: AgentConfig): Promise<void> {
    if (!config.plugins.enabled) return;
    const runtime = new PluginRuntime({
      config: config.plugins,
      logger: this.#logger,
      emit: (records, options) => this.#accept(records, options),
      enqueue: (records) => this.#enqueue(records),
    });
    this.#plugins = runtime;
    registerPluginMetrics(this.#telemetry.registry, () => runtime.list());
    await runtime.start().catch((err: unknown) => {
      this.#logger.error({ err }, 'the plugin host did not start; no plugin runs until the agent restarts');
    });
  }

  /** A plugin stage naming no installed process plugin, found before a reload changes anything. */
  #missingProcessPlugin(config: AgentConfig): { code: string; message: string } | null {
    if (this.#plugins === null) return null;
    const index = config.processors.findIndex(
      (p) => p.type === 'plugin' && !this.#plugins?.processFn(p.plugin),
    );
    const stage = config.processors[index];
    if (stage?.type !== 'plugin') return null;
    return {
      code: 'E_PROCESSOR_PLUGIN_UNKNOWN',
      message: `processors[${index}].plugin: no installed process plugin named "${stage.plugin}" (stage "${stage.name}"); install it first (agentctl plugin install), or fix the name`,
    };
  }

  #createPipeline(config: AgentConfig): Pipeline {
    return Pipeline.create(config.processors, {
      logger: this.#logger.child({ component: 'pipeline' }),
      // Output made later by timers (closed aggregate windows) goes straight to the queue.
      emit: (records) => void this.#enqueue(records),
      resolvePlugin: (name) => this.#plugins?.processStage(name),
    });
  }

  #startInputs(config: AgentConfig): void {
    this.#inputs = createInputs(config.inputs, {
      emit: (records, options) => this.#accept(records, options),
      logger: this.#logger,
      // Log inputs resume from the offsets committed with the lines they cover.
      readCursors: (prefix) => this.#queue.cursors(prefix),
      hostname: config.agent.hostname,
    });
    const slowdown = this.#guard?.inputSlowdown ?? 1;
    for (const input of this.#inputs) {
      if (slowdown > 1) input.setSlowdown?.(slowdown);
      input.start();
    }
  }

  /** Sheds load before the service manager acts: see ResourceGuard. Limits change on restart. */
  #startGuard(config: AgentConfig): void {
    const { cpu_percent, memory, interval } = config.limits;
    if (cpu_percent === null && memory === null) return;
    const shedding: LoadShedding = {
      slowInputs: (factor) => {
        for (const input of this.#inputs) input.setSlowdown?.(factor);
      },
      pauseHeaviestPlugin: async () => this.#plugins?.pauseHeaviest() ?? null,
      resumePlugins: async () => {
        this.#plugins?.resumePaused();
      },
    };
    this.#guard = new ResourceGuard({
      limits: { cpuPercent: cpu_percent, memoryBytes: memory },
      intervalMs: interval,
      shedding,
      logger: this.#logger.child({ component: 'resource-guard' }),
    });
    this.#guard.start();
  }

  /** Keeps the old generation from climbing under load (docs/operations.md, "Memory under load"). */
  #startOldSpaceCap(): void {
    const cap = new OldSpaceCap();
    defineScrapedMetric({
      type: 'counter',
      name: `${METRIC_PREFIX}old_space_collections_total`,
      help: 'Major garbage collections the agent asked for because its old space grew under load',
      labelNames: [],
      registry: this.#telemetry.registry,
      fill: (set) => set({}, cap.stats().collections),
    });
    cap.start();
    this.#oldSpaceCap = cap;
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
      onHeartbeatAnswer: (answer) => {
        this.#sender?.setMinSendInterval(answer.minSendIntervalMs ?? null);
        this.#fleet?.onHeartbeatAnswer(answer);
      },
      logger: this.#logger,
    });
    const sender = new Sender({
      source: this.#queue,
      transport: new HttpTransport({
        url: config.collector.url,
        connections: config.send.max_in_flight,
        logger: this.#logger,
      }),
      identity: () => link.identity(),
      onUnauthorized: () => link.renewIdentity(),
      batchMaxRecords: config.send.batch_max_records,
      batchMaxBytes: config.send.batch_max_bytes,
      batchMaxWaitMs: config.send.batch_max_wait,
      maxInFlight: config.send.max_in_flight,
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
      plugins: (this.#plugins?.list() ?? []).map(({ name, version, state }) => ({ name, version, state })),
      ...this.#fleet?.status(),
    };
  }

  /** Remote config and commands from the collector (docs/fleet.md). */
  #createFleet(config: AgentConfig): FleetController {
    return new FleetController({
      host: {
        config: () => this.config,
        reload: () => this.reload(),
        flush: () => this.flush(),
        plugins: () => this.#plugins,
        configPath: () => this.#loaded.path ?? this.#options.configPath,
        env: () => this.#options.env ?? process.env,
        remoteConfig: () => this.#remote,
        exit: (code) => {
          this.#logger.warn({ code }, "agent stopping at the collector's request");
          void this.close().then(
            () => this.#options.onExit?.(code),
            (err: unknown) => {
              this.#logger.error({ err }, 'shutdown failed');
              this.#options.onExit?.(1);
            },
          );
        },
      },
      client: () => this.#link,
      stateDir: config.agent.state_dir,
      logger: this.#logger.child({ component: 'fleet' }),
    });
  }

  async #reload(): Promise<ReloadResult> {
    const previous = this.#loaded;
    let next: LoadedConfig;
    let remote: { version: string | null; error: RemoteConfigError | null };
    try {
      const effective = await loadEffectiveConfig({
        path: previous.path ?? this.#options.configPath,
        env: this.#options.env ?? process.env,
      });
      next = effective.loaded;
      remote = { version: effective.remoteVersion, error: effective.remoteError };
    } catch (err) {
      const error = isOutpostError(err)
        ? { code: err.code, message: err.message }
        : { code: 'E_RELOAD', message: String(err) };
      this.#logger.error({ err }, 'reload refused: the new config is invalid, the running config stays');
      return { applied: false, configVersion: previous.version, error, needsRestart: [] };
    }
    const before = previous.config;
    const after = next.config;
    const missing = this.#missingProcessPlugin(after);
    if (missing !== null) {
      this.#logger.error(
        { err: missing },
        'reload refused: the new config is invalid, the running config stays',
      );
      return { applied: false, configVersion: previous.version, error: missing, needsRestart: [] };
    }
    const needsRestart = RESTART_ONLY.filter(([, pick]) => !sameJson(pick(before), pick(after))).map(
      ([key]) => key,
    );
    // Settings held by open resources stay as they are until a restart; the rest apply now.
    const applied: AgentConfig = {
      ...after,
      agent: { ...after.agent, state_dir: before.agent.state_dir },
      control: before.control,
      queue: before.queue,
      plugins: { ...after.plugins, enabled: before.plugins.enabled, dir: before.plugins.dir },
    };
    this.#loaded = { ...next, config: applied };
    this.#remote = remote;
    if (!this.#options.logLevel) this.#logger.level = applied.log.level;
    if (before.metrics.listen !== applied.metrics.listen) {
      // A port taken by someone else must not fail the whole reload: the rest still applies.
      await this.#listenForMetrics(applied.metrics.listen).catch((err: unknown) =>
        this.#logger.error({ err }, 'reload: self-metrics are no longer served over TCP'),
      );
    }
    if (!sameJson(before.plugins, applied.plugins)) {
      // Before the chain: a new process stage may name a plugin the new overrides enable.
      await this.#plugins?.applyConfig(applied.plugins).catch((err: unknown) => {
        this.#logger.error({ err }, 'reload: the plugins section was not fully applied');
      });
    }
    if (!sameJson(before.processors, applied.processors)) {
      // The new chain takes records from now on; the old one hands its open windows to the queue.
      const old = this.#pipeline;
      this.#pipeline = this.#createPipeline(applied);
      for (const stream of this.#taps) stream.end();
      await old?.close();
    }
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

/** `?batch=N` picks one dead-lettered batch; without it, all of them. */
function batchParam(query: URLSearchParams): number | undefined {
  const raw = query.get('batch');
  if (raw === null) return undefined;
  const batch = Number(raw);
  if (!Number.isSafeInteger(batch) || batch < 1) throw badBatchParam(raw);
  return batch;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export type AgentStatus = ReturnType<Agent['status']>;
