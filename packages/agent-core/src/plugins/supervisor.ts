import type { AlertRecord, OutpostRecord } from '@outpost/plugin-sdk';
import { type PluginManifest, validatePluginConfig } from '@outpost/plugin-sdk/manifest';
import type { PluginLogEntry, PluginLogLevel, SandboxLimits } from '@outpost/plugin-sdk/sandbox';
import type { Logger } from 'pino';
import type { Emit } from '../collect/input.ts';
import { isOutpostError, OutpostError } from '../errors.ts';
import {
  asOutpostError,
  capabilityNotDeclared,
  hostClosed,
  pluginNotInstalled,
  pluginNotRunning,
  pluginQuarantined,
} from './errors.ts';
import { PluginHost } from './host.ts';
import type { CallMethod, SandboxReport } from './protocol.ts';
import type { InstalledPlugin, PluginStore } from './store.ts';

/** `paused`: unloaded for now by the agent's resource guard; not persisted, resumed by resume(). */
export type PluginState =
  | 'starting'
  | 'running'
  | 'backoff'
  | 'quarantined'
  | 'disabled'
  | 'paused'
  | 'failed';

export interface PluginRuntimeStats {
  name: string;
  version: string;
  state: PluginState;
  /** What the registry says; a quarantined or paused plugin is still enabled. */
  enabled: boolean;
  /** Why it is quarantined or failed. */
  reason: string | null;
  calls: number;
  errors: number;
  restarts: number;
  recordsIn: number;
  recordsOut: number;
  /** CPU time and heap of the current sandbox, from the plugin host. */
  cpuTimeMs: number;
  heapUsedBytes: number;
  lastError: string | null;
}

export interface PluginSupervisorOptions {
  store: PluginStore;
  logger: Logger;
  /** Where collect plugins' records go. */
  emit?: Emit;
  /** Overrides every manifest's collectIntervalMs. */
  collectIntervalMs?: number;
  limits?: Partial<SandboxLimits>;
  /** Per-plugin settings over the ones above, read at each load (so a reload's change applies on the next one). */
  settingsFor?: (name: string) => PluginSettings;
  maxStateBytes?: number;
  /** Every log line of a plugin, and the supervisor's own lines about it (failures, restarts, quarantine). */
  onLog?: (entry: PluginLogEntry) => void;
  /** Backoff of a failed plugin's restart: restartInitialMs doubled per failure, up to restartMaxMs. */
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** A plugin failing this many times within failureWindowMs is quarantined. */
  maxFailures?: number;
  failureWindowMs?: number;
  /** For the plugin-host process. */
  hostRequestTimeoutMs?: number;
  hostRestartInitialMs?: number;
  hostRestartMaxMs?: number;
}

export interface PluginSettings {
  limits?: Partial<SandboxLimits>;
  collectIntervalMs?: number;
}

/** What updatePolicy() may change on a running supervisor; applies to the next load, failure or tick. */
export type PluginPolicy = Pick<
  PluginSupervisorOptions,
  | 'collectIntervalMs'
  | 'limits'
  | 'restartInitialMs'
  | 'restartMaxMs'
  | 'maxFailures'
  | 'failureWindowMs'
  | 'maxStateBytes'
>;

interface Runtime {
  name: string;
  version: string;
  enabled: boolean;
  manifest: PluginManifest | undefined;
  state: PluginState;
  reason: string | null;
  failures: number[];
  calls: number;
  errors: number;
  restarts: number;
  recordsIn: number;
  recordsOut: number;
  lastError: string | null;
  collectTimer: NodeJS.Timeout | undefined;
  collecting: Promise<void> | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  /** Bumped on each load/unload so that stale timers and replies are ignored. */
  generation: number;
}

/**
 * Runs the enabled plugins in a PluginHost and applies the failure policy: a failed call restarts
 * the plugin's sandbox with exponential backoff; too many failures within a window quarantine it
 * until it is enabled again. One plugin's failures never stop the others.
 */
export class PluginSupervisor {
  readonly #store: PluginStore;
  readonly #logger: Logger;
  readonly #emit: Emit | undefined;
  #options: PluginSupervisorOptions;
  readonly #host: PluginHost;
  /** The host's last answer to stats, so snapshot() can answer without a round trip. */
  #sandboxes: Record<string, SandboxReport> = {};
  #quiesced = false;
  readonly #plugins = new Map<string, Runtime>();
  #started: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PluginSupervisorOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#emit = options.emit;
    this.#options = options;
    this.#host = new PluginHost({
      logger: options.logger,
      requestTimeoutMs: options.hostRequestTimeoutMs,
      restartInitialMs: options.hostRestartInitialMs,
      restartMaxMs: options.hostRestartMaxMs,
      onRestart: () => this.#reloadAll(),
      onLog: (entry) => this.#pluginLog(entry),
      // Blame the plugin, or a plugin that aborts the host on every load would do so forever.
      onFatal: (plugin, message) => {
        const runtime = this.#plugins.get(plugin);
        if (runtime !== undefined) this.#failed(runtime, new OutpostError('E_PLUGIN_MEMORY', message));
      },
    });
  }

  /** The plugin-host process (its pid, its restarts). */
  get host(): PluginHost {
    return this.#host;
  }

  /** Starts the plugin host and every enabled plugin. A plugin that fails to load is reported in stats. */
  start(): Promise<void> {
    this.#checkOpen();
    this.#started ??= (async () => {
      await this.#host.start();
      for (const plugin of await this.#store.list()) {
        const runtime = this.#runtime(plugin);
        if (plugin.enabled) await this.#load(runtime);
        else runtime.state = 'disabled';
      }
    })();
    return this.#started;
  }

  /** Enables the plugin (clearing a quarantine) and loads it. */
  async enable(name: string): Promise<void> {
    this.#checkOpen();
    const plugin = await this.#store.enable(name);
    const runtime = this.#runtime(plugin);
    runtime.failures = [];
    runtime.reason = null;
    await this.#load(runtime);
  }

  /** Loads the plugin's sandbox again (its state is kept), clearing a quarantine or a pause. */
  async restart(name: string): Promise<void> {
    this.#checkOpen();
    const plugin = await this.#store.get(name);
    if (plugin === undefined) throw pluginNotInstalled(name);
    const runtime = this.#runtime(plugin);
    if (!plugin.enabled) throw pluginNotRunning(name, 'disabled');
    runtime.failures = [];
    runtime.reason = null;
    runtime.restarts++;
    await this.#unload(runtime);
    await this.#load(runtime);
  }

  /** Unloads a running plugin until resume(), without touching the registry (the resource guard's lever). */
  async pause(name: string): Promise<boolean> {
    this.#checkOpen();
    const runtime = this.#plugins.get(name);
    if (runtime === undefined || (runtime.state !== 'running' && runtime.state !== 'backoff')) return false;
    await this.#unload(runtime);
    runtime.state = 'paused';
    this.#note(runtime.name, 'warn', 'plugin paused by the resource guard');
    return true;
  }

  /** Loads a paused plugin again; false when it is no longer paused. */
  async resume(name: string): Promise<boolean> {
    this.#checkOpen();
    const runtime = this.#plugins.get(name);
    if (runtime === undefined || runtime.state !== 'paused') return false;
    this.#note(runtime.name, 'info', 'plugin resumed');
    await this.#load(runtime);
    return true;
  }

  /** Changes limits, intervals or the failure policy; loads, failures and ticks from now on use them. */
  updatePolicy(policy: PluginPolicy): void {
    this.#options = { ...this.#options, ...policy };
  }

  /** The manifest of a plugin loaded at least once. */
  manifest(name: string): PluginManifest | undefined {
    return this.#plugins.get(name)?.manifest;
  }

  /** Stops every collect schedule and waits for collections in flight; no new schedule starts after it. */
  async quiesce(): Promise<void> {
    this.#quiesced = true;
    for (const runtime of this.#plugins.values()) clearInterval(runtime.collectTimer);
    await Promise.all([...this.#plugins.values()].map((r) => r.collecting));
  }

  async disable(name: string): Promise<void> {
    this.#checkOpen();
    const plugin = await this.#store.disable(name);
    const runtime = this.#runtime(plugin);
    await this.#unload(runtime);
    runtime.state = 'disabled';
    runtime.enabled = false;
  }

  /** Validates and stores the config, then reloads the plugin; its state is kept. */
  async reconfigure(name: string, config: Record<string, unknown>): Promise<void> {
    this.#checkOpen();
    const plugin = await this.#store.setConfig(name, config);
    const runtime = this.#runtime(plugin);
    if (plugin.enabled && runtime.state !== 'quarantined') await this.#load(runtime);
  }

  /** Installs (or upgrades) from a dir or .tgz and loads it when enabled. */
  async install(source: string, options?: Parameters<PluginStore['install']>[1]): Promise<InstalledPlugin> {
    this.#checkOpen();
    const plugin = await this.#store.install(source, options);
    const runtime = this.#runtime(plugin);
    runtime.failures = [];
    runtime.reason = null;
    if (plugin.enabled) await this.#load(runtime);
    else runtime.state = 'disabled';
    return plugin;
  }

  /** Stops the plugin, then deletes its files and state. */
  async remove(name: string): Promise<void> {
    this.#checkOpen();
    const runtime = this.#plugins.get(name);
    if (runtime !== undefined) {
      await this.#unload(runtime);
      this.#plugins.delete(name);
    }
    await this.#store.remove(name);
  }

  /** What the pipeline's plugin stage calls (process/ResolvePlugin). */
  processFn(name: string): (records: OutpostRecord[]) => Promise<OutpostRecord[]> {
    return async (records) => (await this.#invoke(name, 'process', records)) as OutpostRecord[];
  }

  async collect(name: string): Promise<OutpostRecord[]> {
    return (await this.#invoke(name, 'collect', undefined)) as OutpostRecord[];
  }

  async rule(name: string, records: OutpostRecord[]): Promise<AlertRecord[]> {
    return (await this.#invoke(name, 'rule', records)) as AlertRecord[];
  }

  async action(name: string, alert: AlertRecord): Promise<OutpostRecord[]> {
    return (await this.#invoke(name, 'action', alert)) as OutpostRecord[];
  }

  /** Asks the host for every sandbox's CPU and heap, then answers as snapshot() does. */
  async stats(): Promise<PluginRuntimeStats[]> {
    await this.refreshStats();
    return this.snapshot();
  }

  /** Updates the CPU and heap figures snapshot() reports; a host that does not answer leaves the last ones. */
  async refreshStats(): Promise<void> {
    if (this.#closing !== undefined) return;
    try {
      this.#sandboxes = await this.#host.stats();
    } catch {
      // Restarting or closing: the figures of the last answer stay until the next one.
    }
  }

  /** The plugins' figures now, CPU and heap as of the last refreshStats(). */
  snapshot(): PluginRuntimeStats[] {
    const sandboxes = this.#sandboxes;
    return [...this.#plugins.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => ({
        name: r.name,
        version: r.version,
        state: r.state,
        enabled: r.enabled,
        reason: r.reason,
        calls: r.calls,
        errors: r.errors,
        restarts: r.restarts,
        recordsIn: r.recordsIn,
        recordsOut: r.recordsOut,
        cpuTimeMs: sandboxes[r.name]?.cpuTimeMs ?? 0,
        heapUsedBytes: sandboxes[r.name]?.heapUsedBytes ?? 0,
        lastError: r.lastError,
      }));
  }

  /** Stops scheduling, waits for collections in progress, stops the plugins and the host. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#started?.catch(() => {});
      for (const runtime of this.#plugins.values()) this.#stopTimers(runtime);
      await Promise.all([...this.#plugins.values()].map((r) => r.collecting));
      await this.#host.close();
    })();
    return this.#closing;
  }

  #pluginLog(entry: PluginLogEntry): void {
    if (this.#options.onLog) this.#options.onLog(entry);
    else this.#logger[entry.level]({ plugin: entry.plugin }, entry.message);
  }

  /** A line about the plugin from the supervisor, kept with the plugin's own lines. */
  #note(plugin: string, level: PluginLogLevel, message: string): void {
    this.#options.onLog?.({ plugin, level, message: `[supervisor] ${message}`, ts: Date.now() });
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw hostClosed();
  }

  #runtime(plugin: InstalledPlugin): Runtime {
    let runtime = this.#plugins.get(plugin.name);
    if (runtime === undefined) {
      runtime = {
        name: plugin.name,
        version: plugin.version,
        enabled: plugin.enabled,
        manifest: undefined,
        state: 'starting',
        reason: null,
        failures: [],
        calls: 0,
        errors: 0,
        restarts: 0,
        recordsIn: 0,
        recordsOut: 0,
        lastError: null,
        collectTimer: undefined,
        collecting: undefined,
        restartTimer: undefined,
        generation: 0,
      };
      this.#plugins.set(plugin.name, runtime);
    }
    runtime.version = plugin.version;
    runtime.enabled = plugin.enabled;
    return runtime;
  }

  /** (Re)creates the plugin's sandbox from the store. A load failure counts as a failure of the plugin. */
  async #load(runtime: Runtime): Promise<void> {
    this.#stopTimers(runtime);
    const generation = ++runtime.generation;
    runtime.state = 'starting';
    try {
      const { plugin, pkg } = await this.#store.read(runtime.name);
      runtime.version = plugin.version;
      runtime.manifest = pkg.manifest;
      // Validated here, before the plugin runs: E_PLUGIN_CONFIG names the plugin and each bad field.
      const config = validatePluginConfig(pkg.manifest, plugin.config);
      await this.#host.load({
        name: plugin.name,
        manifest: pkg.manifest,
        entryPath: pkg.entryPath,
        sha256: plugin.sha256,
        config,
        stateFile: plugin.stateFile,
        maxStateBytes: this.#options.maxStateBytes,
        limits: { ...this.#options.limits, ...this.#options.settingsFor?.(plugin.name).limits },
      });
    } catch (err) {
      if (generation !== runtime.generation) return;
      // Not the plugin's fault: the host's restart loads it again.
      if (isOutpostError(err, 'E_PLUGIN_HOST_DIED')) runtime.state = 'starting';
      // The SDK's errors (manifest, config) are another class: its code decides the quarantine.
      else this.#failed(runtime, asOutpostError(err));
      return;
    }
    if (generation !== runtime.generation) return;
    runtime.state = 'running';
    this.#schedule(runtime);
  }

  async #unload(runtime: Runtime): Promise<void> {
    this.#stopTimers(runtime);
    runtime.generation++;
    await runtime.collecting;
    await this.#host.unload(runtime.name).catch((err: unknown) => {
      this.#logger.warn({ plugin: runtime.name, err }, 'plugin unload failed');
    });
  }

  async #reloadAll(): Promise<void> {
    for (const runtime of this.#plugins.values()) {
      // Plugins in backoff come back when their own timer fires.
      if (runtime.state !== 'running' && runtime.state !== 'starting') continue;
      await this.#load(runtime);
    }
  }

  #schedule(runtime: Runtime): void {
    if (this.#emit === undefined || this.#quiesced || !runtime.manifest?.capabilities.includes('collect')) {
      return;
    }
    const emit = this.#emit;
    const intervalMs =
      this.#options.settingsFor?.(runtime.name).collectIntervalMs ??
      this.#options.collectIntervalMs ??
      runtime.manifest.collectIntervalMs;
    const generation = runtime.generation;
    runtime.collectTimer = setInterval(() => {
      // Cycles never overlap: a tick that finds one still running is skipped.
      if (runtime.collecting !== undefined || generation !== runtime.generation) return;
      runtime.collecting = (async () => {
        try {
          const records = (await this.#invoke(runtime.name, 'collect', undefined)) as OutpostRecord[];
          if (records.length > 0 && !(await emit(records))) {
            this.#logger.warn(
              { plugin: runtime.name, records: records.length },
              'queue refused plugin records',
            );
          }
        } catch (err) {
          this.#logger.debug({ plugin: runtime.name, err }, 'plugin collect failed');
        } finally {
          runtime.collecting = undefined;
        }
      })();
    }, intervalMs);
    runtime.collectTimer.unref();
  }

  #stopTimers(runtime: Runtime): void {
    clearInterval(runtime.collectTimer);
    clearTimeout(runtime.restartTimer);
    runtime.collectTimer = undefined;
    runtime.restartTimer = undefined;
  }

  async #invoke(name: string, method: CallMethod, input: unknown): Promise<unknown> {
    if (this.#closing !== undefined) throw hostClosed();
    const runtime = this.#plugins.get(name);
    if (runtime === undefined) throw pluginNotRunning(name, 'not loaded');
    if (runtime.state === 'quarantined') throw pluginQuarantined(name, runtime.reason ?? 'unknown');
    if (runtime.state !== 'running') throw pluginNotRunning(name, runtime.state);
    // The caller's mistake, not the plugin's: checked here so it does not count as a failure.
    const declared = runtime.manifest?.capabilities ?? [];
    if (!declared.includes(method)) throw capabilityNotDeclared(name, method, declared);
    const generation = runtime.generation;
    runtime.calls++;
    if (Array.isArray(input)) runtime.recordsIn += input.length;
    else if (input !== undefined) runtime.recordsIn++;
    try {
      const out = (await this.#host.call(name, method, input)) as unknown[];
      runtime.recordsOut += out.length;
      return out;
    } catch (err) {
      runtime.errors++;
      runtime.lastError = (err as Error).message;
      // The host's death is not the plugin's fault: the host restart reloads it.
      if (!isOutpostError(err, 'E_PLUGIN_HOST_DIED') && generation === runtime.generation) {
        this.#failed(runtime, err);
      }
      throw err;
    }
  }

  #failed(runtime: Runtime, err: unknown): void {
    const message = (err as Error).message;
    const code = err instanceof OutpostError ? err.code : undefined;
    runtime.lastError = message;
    this.#stopTimers(runtime);
    runtime.generation++;
    if (this.#closing !== undefined) return;
    const now = performance.now();
    const windowMs = this.#options.failureWindowMs ?? 10 * 60_000;
    runtime.failures = [...runtime.failures.filter((at) => now - at < windowMs), now];
    const maxFailures = this.#options.maxFailures ?? 5;
    const unload = () =>
      this.#host.unload(runtime.name).catch((e: unknown) => {
        this.#logger.debug({ plugin: runtime.name, err: e }, 'unloading a failed plugin failed');
      });
    if (runtime.failures.length >= maxFailures || code === 'E_PLUGIN_CONFIG' || code === 'E_PLUGIN_SHA256') {
      runtime.state = 'quarantined';
      runtime.reason = message;
      this.#logger.error({ plugin: runtime.name, err: message }, 'plugin quarantined');
      this.#note(runtime.name, 'error', `quarantined: ${message}`);
      void unload();
      return;
    }
    const initial = this.#options.restartInitialMs ?? 1_000;
    const delay = Math.min(
      initial * 2 ** (runtime.failures.length - 1),
      this.#options.restartMaxMs ?? 5 * 60_000,
    );
    runtime.state = 'backoff';
    this.#logger.warn(
      { plugin: runtime.name, err: message, restartInMs: delay },
      'plugin failed; restarting it',
    );
    this.#note(runtime.name, 'warn', `failed, restarting in ${delay} ms: ${message}`);
    const generation = runtime.generation;
    void unload();
    runtime.restartTimer = setTimeout(() => {
      if (generation !== runtime.generation || this.#closing !== undefined) return;
      runtime.restarts++;
      void this.#load(runtime);
    }, delay);
    runtime.restartTimer.unref();
  }
}
