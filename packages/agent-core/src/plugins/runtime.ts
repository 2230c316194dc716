import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AlertRecord, OutpostRecord } from '@outpost/plugin-sdk';
import { type PluginManifest, validatePluginConfig } from '@outpost/plugin-sdk/manifest';
import type { PluginLogEntry, SandboxLimits } from '@outpost/plugin-sdk/sandbox';
import type { Logger } from 'pino';
import type { Emit } from '../collect/index.ts';
import type { PluginLimitsConfig, PluginsConfig } from '../config/index.ts';
import { isOutpostError } from '../errors.ts';
import type { ProcessPlugin } from '../process/index.ts';
import { asOutpostError, hostClosed, pluginNotInstalled, processPluginMissing } from './errors.ts';
import type { InstalledPlugin } from './store.ts';
import { PluginStore } from './store.ts';
import {
  type PluginPolicy,
  type PluginRuntimeStats,
  type PluginSettings,
  PluginSupervisor,
  type PluginSupervisorOptions,
} from './supervisor.ts';

/** One plugin as `agentctl plugin list` and the self-metrics see it. */
export interface PluginStatus extends PluginRuntimeStats {
  description: string | null;
  capabilities: string[];
  /** Records (rule) or alerts (action) waiting for the plugin, and those it lost to a full backlog. */
  backlog: number;
  backlogDropped: number;
}

/** `agentctl plugin config show`: the status plus what the plugin was given and may do. */
export interface PluginDetails extends PluginStatus {
  config: Record<string, unknown>;
  configSchema: Record<string, unknown>;
  permissions: PluginManifest['permissions'];
  installedAt: string;
  sha256: string;
  /** Keys of the agent config's plugins.overrides.<name> that win over the registry on start and reload. */
  overriddenBy: string[];
}

export interface PluginInstallOptions {
  /** Refuse the install (E_PLUGIN_SHA256) unless the bundle has this sha256 (hex). */
  sha256?: string;
  /** One human line per step: extracting, reading, verifying, copying, installed, started. */
  onProgress?: (step: string) => void;
}

export interface PluginRuntimeOptions {
  config: PluginsConfig;
  logger: Logger;
  /** Where collect and action plugins' records go: the processor chain, then the queue, as an input's. */
  emit: Emit;
  /**
   * Where rule plugins' alerts go: straight into the queue (they are the chain's output already).
   * The agent's own enqueue hands what it took to observe(), which is how alerts reach action plugins.
   */
  enqueue: (records: OutpostRecord[]) => boolean;
  /** Tests shorten the supervisor's and host's delays. */
  supervisor?: Partial<PluginSupervisorOptions>;
  /** How often CPU and heap figures are fetched from the plugin host; default 2 s. */
  statsIntervalMs?: number;
  /** Log lines kept per plugin for `agentctl plugin logs`; default 500. */
  logLines?: number;
  /** Records (or alerts) waiting per rule (or action) plugin before the oldest are dropped; default 10000. */
  maxBacklog?: number;
}

/** Rule plugins get batches of at most this many records. */
const RULE_BATCH = 1_000;

/** Work waiting for one rule or action plugin; drained one call at a time. */
interface Lane {
  pending: OutpostRecord[];
  draining: Promise<void> | undefined;
  dropped: number;
}

interface Known {
  manifest: PluginManifest;
  plugin: InstalledPlugin;
}

/**
 * The agent's plugins: the store, the supervised plugin host and the routes records take through
 * them. Collect plugins emit like inputs; process plugins are stages of the processor chain
 * (processFn); every record the queue takes is shown to rule plugins (observe) whose alerts are
 * queued; every alert the queue takes runs the action plugins. Rule and action work is queued
 * per plugin and bounded, so a slow plugin never holds the pipeline.
 */
export class PluginRuntime {
  readonly #logger: Logger;
  readonly #options: PluginRuntimeOptions;
  readonly #store: PluginStore;
  readonly #supervisor: PluginSupervisor;
  readonly #known = new Map<string, Known>();
  readonly #logs = new Map<string, PluginLogEntry[]>();
  readonly #lanes = new Map<string, Lane>();
  /** Plugins the resource guard paused, in the order it paused them. */
  readonly #paused = new Set<string>();
  /** CPU ms per plugin at the previous stats refresh, to rank plugins by recent use. */
  #cpuBefore = new Map<string, number>();
  readonly #cpuRecent = new Map<string, number>();
  #config: PluginsConfig;
  #statsTimer: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PluginRuntimeOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#logger = options.logger.child({ component: 'plugins' });
    this.#store = new PluginStore({ dir: options.config.dir });
    this.#supervisor = new PluginSupervisor({
      store: this.#store,
      logger: this.#logger,
      emit: options.emit,
      settingsFor: (name) => this.#settingsFor(name),
      onLog: (entry) => this.#onLog(entry),
      ...policyOf(options.config),
      ...options.supervisor,
    });
  }

  /** The plugins directory (registry.json and one folder per plugin). */
  get dir(): string {
    return this.#store.root;
  }

  /** The plugin-host child process. */
  get hostPid(): number | undefined {
    return this.#supervisor.host.pid;
  }

  /**
   * Starts the plugin host and the enabled plugins, with the agent config's overrides applied. A
   * plugin that fails to load is reported by list(); a host that cannot start fails this call.
   * Without installed plugins the host starts with the first install.
   */
  start(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(hostClosed());
    this.#started ??= (async () => {
      // Into the registry first, so each plugin loads once, as the config file says.
      for (const [name, override] of Object.entries(this.#config.overrides)) {
        await this.#overrideRegistry(name, override);
      }
      // An agent without plugins does not pay for a plugin-host process: it starts with the first install.
      if ((await this.#store.list()).length > 0) await this.#supervisor.start();
      await this.#refreshKnown();
      await this.refreshStats();
      this.#statsTimer = setInterval(() => void this.refreshStats(), this.#options.statsIntervalMs ?? 2_000);
      this.#statsTimer.unref();
    })();
    return this.#started;
  }

  /**
   * Installs (or upgrades) a plugin from a directory, a .tgz path, or the bytes of a .tgz, and
   * starts it when enabled. State of an earlier version is kept; the agent config's override of
   * its config or enabled flag applies.
   */
  install(source: string | Uint8Array, opts: PluginInstallOptions = {}): Promise<PluginStatus> {
    return settle(this.#install(source, opts));
  }

  async #install(source: string | Uint8Array, opts: PluginInstallOptions = {}): Promise<PluginStatus> {
    this.#checkOpen();
    await this.start();
    const progress = opts.onProgress ?? (() => {});
    let file = typeof source === 'string' ? source : undefined;
    if (file === undefined) {
      await fs.mkdir(this.#store.root, { recursive: true });
      file = path.join(this.#store.root, `.upload-${randomUUID()}.tgz`);
      await fs.writeFile(file, source as Uint8Array, { mode: 0o600 });
    }
    try {
      await this.#supervisor.start();
      const installed = await this.#supervisor.install(file, {
        ...(opts.sha256 !== undefined && { expectedSha256: opts.sha256 }),
        configFor: (name) => this.#config.overrides[name]?.config,
        onProgress: (phase, detail) => progress(`${phase} ${detail}`),
      });
      await this.#refreshKnown();
      await this.#applyOverride(installed.name, undefined);
      await this.refreshStats();
      const status = this.#status(installed.name);
      progress(`started ${installed.name}@${installed.version}: ${status.state}`);
      return status;
    } finally {
      if (typeof source !== 'string') await fs.rm(file, { force: true });
    }
  }

  /** Stops the plugin and deletes its files and state. */
  remove(name: string): Promise<void> {
    return settle(this.#remove(name));
  }

  async #remove(name: string): Promise<void> {
    this.#checkOpen();
    await this.start();
    await this.#supervisor.remove(name);
    this.#known.delete(name);
    this.#lanes.delete(name);
    this.#logs.delete(name);
    this.#paused.delete(name);
  }

  enable(name: string): Promise<PluginStatus> {
    return settle(this.#enable(name));
  }

  async #enable(name: string): Promise<PluginStatus> {
    this.#checkOpen();
    await this.start();
    await this.#supervisor.enable(name);
    this.#paused.delete(name);
    await this.#refreshKnown();
    return this.#status(name);
  }

  disable(name: string): Promise<PluginStatus> {
    return settle(this.#disable(name));
  }

  async #disable(name: string): Promise<PluginStatus> {
    this.#checkOpen();
    await this.start();
    await this.#supervisor.disable(name);
    this.#paused.delete(name);
    this.#lanes.delete(name);
    await this.#refreshKnown();
    return this.#status(name);
  }

  /** Loads the plugin again (state kept), clearing a quarantine. */
  restart(name: string): Promise<PluginStatus> {
    return settle(this.#restart(name));
  }

  async #restart(name: string): Promise<PluginStatus> {
    this.#checkOpen();
    await this.start();
    await this.#supervisor.restart(name);
    this.#paused.delete(name);
    return this.#status(name);
  }

  /**
   * Validates `config` against the plugin's JSON Schema (E_PLUGIN_CONFIG naming each bad field; the
   * old config stays), stores it and reloads the plugin with its state. Returns the stored config,
   * defaults applied.
   */
  configure(name: string, config: Record<string, unknown>): Promise<Record<string, unknown>> {
    return settle(this.#configure(name, config));
  }

  async #configure(name: string, config: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#checkOpen();
    await this.start();
    await this.#supervisor.reconfigure(name, config);
    await this.#refreshKnown();
    return structuredClone(this.#known.get(name)?.plugin.config ?? {});
  }

  /** Every installed plugin, sorted by name; CPU and heap as of the last refresh (every 2 s). */
  list(): PluginStatus[] {
    return this.#supervisor.snapshot().map((stats) => this.#withManifest(stats));
  }

  describe(name: string): Promise<PluginDetails> {
    return settle(this.#describe(name));
  }

  async #describe(name: string): Promise<PluginDetails> {
    this.#checkOpen();
    await this.start();
    await this.#refreshKnown();
    const known = this.#known.get(name);
    if (known === undefined) throw pluginNotInstalled(name);
    return {
      ...this.#status(name),
      config: known.plugin.config,
      configSchema: known.manifest.configSchema,
      permissions: known.manifest.permissions,
      installedAt: known.plugin.installedAt,
      sha256: known.plugin.sha256,
      overriddenBy: overriddenKeys(this.#config.overrides[name]),
    };
  }

  /** The plugin's last log lines (its own and the supervisor's about it), oldest first. */
  logs(name: string, lines = 100): PluginLogEntry[] {
    this.#checkOpen();
    if (!this.#known.has(name)) throw pluginNotInstalled(name);
    return (this.#logs.get(name) ?? []).slice(-Math.max(0, lines));
  }

  /** Fetches CPU and heap figures from the plugin host for list(). */
  async refreshStats(): Promise<void> {
    await this.#supervisor.refreshStats();
    const now = new Map(this.#supervisor.snapshot().map((s) => [s.name, s.cpuTimeMs]));
    for (const [name, cpu] of now)
      this.#cpuRecent.set(name, Math.max(0, cpu - (this.#cpuBefore.get(name) ?? 0)));
    this.#cpuBefore = now;
  }

  /**
   * For process stages of the processor chain: the installed plugin's process call, or undefined
   * when no installed plugin of that name declares `process`. A stopped plugin's call fails and
   * the chain passes its records on unchanged.
   */
  processFn(name: string): ProcessPlugin | undefined {
    if (!this.#known.get(name)?.manifest.capabilities.includes('process')) return undefined;
    const call = this.#supervisor.processFn(name);
    return (records) => call(records);
  }

  /**
   * A process stage that finds its plugin at each call, so the agent can start with a stage whose
   * plugin is installed later (installing needs a running agent). Until then, and while the plugin
   * is not running, each call fails and the chain passes the records on unchanged.
   */
  processStage(name: string): ProcessPlugin {
    if (this.processFn(name) === undefined) {
      this.#logger.error(
        { plugin: name },
        `no installed process plugin "${name}": its processor stage passes records on unchanged until it is installed (agentctl plugin install)`,
      );
    }
    return (records) => {
      const call = this.processFn(name);
      if (call === undefined) return Promise.reject(processPluginMissing(name));
      return call(records);
    };
  }

  /**
   * Records the queue just took: non-alert records go to the running rule plugins, alerts (except
   * those action plugins produced themselves) to the running action plugins. Returns at once.
   */
  observe(records: readonly OutpostRecord[]): void {
    if (this.#closing !== undefined || this.#started === undefined || records.length === 0) return;
    let plain: OutpostRecord[] | undefined;
    let alerts: OutpostRecord[] | undefined;
    for (const stats of this.#supervisor.snapshot()) {
      if (stats.state !== 'running') continue;
      const capabilities = this.#known.get(stats.name)?.manifest.capabilities ?? [];
      if (capabilities.includes('rule')) {
        plain ??= records.filter((r) => r.kind !== 'alert');
        if (plain.length > 0) this.#feed(stats.name, 'rule', plain);
      }
      if (capabilities.includes('action')) {
        alerts ??= records.filter((r) => r.kind === 'alert' && !this.#isActionSource(r.source));
        if (alerts.length > 0) this.#feed(stats.name, 'action', alerts);
      }
    }
  }

  /**
   * Pauses the running plugin that used the most CPU since the last stats refresh (then the
   * largest heap), for the agent's resource guard. Returns its name, or undefined when none runs.
   */
  pauseHeaviest(): string | undefined {
    if (this.#closing !== undefined) return undefined;
    const running = this.#supervisor.snapshot().filter((s) => s.state === 'running');
    running.sort(
      (a, b) =>
        (this.#cpuRecent.get(b.name) ?? 0) - (this.#cpuRecent.get(a.name) ?? 0) ||
        b.heapUsedBytes - a.heapUsedBytes,
    );
    const heaviest = running[0]?.name;
    if (heaviest === undefined) return undefined;
    this.#paused.add(heaviest);
    void this.#supervisor.pause(heaviest).catch((err: unknown) => {
      this.#logger.warn({ plugin: heaviest, err }, 'pausing a plugin failed');
    });
    return heaviest;
  }

  /** Loads every plugin pauseHeaviest() paused; returns their names. */
  resumePaused(): string[] {
    if (this.#closing !== undefined) return [];
    const names = [...this.#paused];
    this.#paused.clear();
    for (const name of names) {
      void this.#supervisor.resume(name).catch((err: unknown) => {
        this.#logger.warn({ plugin: name, err }, 'resuming a plugin failed');
      });
    }
    return names;
  }

  /**
   * Applies a reloaded `plugins:` section: limits, intervals and the failure policy take effect on
   * each plugin's next load; an override whose config, enabled flag, interval or limits changed is
   * applied now (a changed interval or limit reloads the plugin, keeping its state).
   */
  async applyConfig(next: PluginsConfig): Promise<void> {
    this.#checkOpen();
    const previous = this.#config;
    this.#config = next;
    this.#supervisor.updatePolicy(policyOf(next));
    await this.start();
    const limitsChanged = !sameJson(previous.limits, next.limits);
    for (const name of this.#known.keys()) {
      const before = previous.overrides[name];
      const after = next.overrides[name];
      if (!sameJson(before, after)) await this.#applyOverride(name, before);
      else if (limitsChanged && this.#status(name).state === 'running') await this.#supervisor.restart(name);
    }
  }

  /** Stops collect schedules and waits for collections in flight (shutdown: before the chain closes). */
  quiesce(): Promise<void> {
    return this.#supervisor.quiesce();
  }

  /** Waits for queued rule and action work (at most `graceMs`), then stops the plugins and the host. */
  close(graceMs = 5_000): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#statsTimer);
      await this.#started?.catch(() => {});
      const drained = Promise.allSettled([...this.#lanes.values()].map((lane) => lane.draining));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      await this.#supervisor.close();
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw hostClosed();
  }

  /** The config's override for one plugin, applied over the registry; `before` is the previous override. */
  async #applyOverride(name: string, before: PluginsConfig['overrides'][string] | undefined): Promise<void> {
    const override = this.#config.overrides[name];
    const known = this.#known.get(name);
    if (known === undefined) return;
    try {
      if (
        override?.config !== undefined &&
        !sameJson(withDefaults(known.manifest, override.config), known.plugin.config)
      ) {
        await this.#supervisor.reconfigure(name, override.config);
      }
      if (override?.enabled !== undefined && override.enabled !== known.plugin.enabled) {
        if (override.enabled) await this.#supervisor.enable(name);
        else await this.#supervisor.disable(name);
      } else if (
        before !== undefined &&
        (before.interval !== override?.interval || !sameJson(before.limits, override?.limits ?? {})) &&
        this.#status(name).state === 'running'
      ) {
        await this.#supervisor.restart(name);
      }
    } catch (err) {
      // One plugin's bad override must not stop the others' or the agent's start.
      this.#logger.error({ plugin: name, err }, `plugins.overrides.${name} was not applied`);
    } finally {
      await this.#refreshKnown();
    }
  }

  /** Before anything runs: the override's config and enabled flag written to the registry. */
  async #overrideRegistry(name: string, override: PluginsConfig['overrides'][string]): Promise<void> {
    const plugin = await this.#store.get(name);
    if (plugin === undefined) return;
    try {
      if (override.config !== undefined) {
        const manifest = await this.#readManifest(name);
        if (manifest !== undefined && !sameJson(withDefaults(manifest, override.config), plugin.config)) {
          await this.#store.setConfig(name, override.config);
        }
      }
      if (override.enabled === true && !plugin.enabled) await this.#store.enable(name);
      if (override.enabled === false && plugin.enabled) await this.#store.disable(name);
    } catch (err) {
      this.#logger.error({ plugin: name, err }, `plugins.overrides.${name} was not applied`);
    }
  }

  #settingsFor(name: string): PluginSettings {
    const override = this.#config.overrides[name];
    const settings: PluginSettings = {
      limits: sandboxLimits({ ...this.#config.limits, ...override?.limits }),
    };
    if (override?.interval !== undefined) settings.collectIntervalMs = override.interval;
    return settings;
  }

  async #refreshKnown(): Promise<void> {
    const installed = await this.#store.list();
    const names = new Set(installed.map((p) => p.name));
    for (const name of this.#known.keys()) if (!names.has(name)) this.#known.delete(name);
    for (const plugin of installed) {
      const manifest = this.#supervisor.manifest(plugin.name) ?? (await this.#readManifest(plugin.name));
      if (manifest !== undefined) this.#known.set(plugin.name, { manifest, plugin });
    }
  }

  async #readManifest(name: string): Promise<PluginManifest | undefined> {
    try {
      return (await this.#store.read(name)).pkg.manifest;
    } catch (err) {
      this.#logger.warn({ plugin: name, err }, 'an installed plugin cannot be read');
      return undefined;
    }
  }

  #status(name: string): PluginStatus {
    const stats = this.#supervisor.snapshot().find((s) => s.name === name);
    if (stats === undefined) throw pluginNotInstalled(name);
    return this.#withManifest(stats);
  }

  #withManifest(stats: PluginRuntimeStats): PluginStatus {
    const manifest = this.#known.get(stats.name)?.manifest ?? this.#supervisor.manifest(stats.name);
    const lane = this.#lanes.get(stats.name);
    return {
      ...stats,
      description: manifest?.description ?? null,
      capabilities: manifest?.capabilities ?? [],
      backlog: lane?.pending.length ?? 0,
      backlogDropped: lane?.dropped ?? 0,
    };
  }

  #isActionSource(source: string): boolean {
    if (!source.startsWith('plugin:')) return false;
    return this.#known.get(source.slice('plugin:'.length))?.manifest.capabilities.includes('action') ?? false;
  }

  #feed(name: string, kind: 'rule' | 'action', records: OutpostRecord[]): void {
    let lane = this.#lanes.get(name);
    if (lane === undefined) {
      lane = { pending: [], draining: undefined, dropped: 0 };
      this.#lanes.set(name, lane);
    }
    for (const record of records) lane.pending.push(record);
    const max = this.#options.maxBacklog ?? 10_000;
    if (lane.pending.length > max) {
      const over = lane.pending.length - max;
      lane.pending.splice(0, over);
      if (lane.dropped === 0) {
        this.#logger.warn({ plugin: name, max }, `${kind} plugin is behind; its oldest input is dropped`);
      }
      lane.dropped += over;
    }
    this.#kick(name, kind, lane);
  }

  #kick(name: string, kind: 'rule' | 'action', lane: Lane): void {
    if (lane.draining !== undefined) return;
    lane.draining = this.#drain(name, kind, lane).finally(() => {
      lane.draining = undefined;
      // Fed between the drain's last look and its end.
      if (lane.pending.length > 0 && this.#lanes.get(name) === lane) this.#kick(name, kind, lane);
    });
  }

  async #drain(name: string, kind: 'rule' | 'action', lane: Lane): Promise<void> {
    while (lane.pending.length > 0 && this.#lanes.get(name) === lane) {
      try {
        if (kind === 'rule') {
          const batch = lane.pending.splice(0, RULE_BATCH);
          const alerts = await this.#supervisor.rule(name, batch);
          if (alerts.length > 0 && !this.#options.enqueue(alerts)) {
            this.#logger.warn(
              { plugin: name, alerts: alerts.length },
              'the queue refused alerts of a rule plugin',
            );
          }
        } else {
          const alert = lane.pending.shift() as AlertRecord;
          const records = await this.#supervisor.action(name, alert);
          if (records.length > 0) await this.#options.emit(records);
        }
      } catch (err) {
        // The supervisor restarts or quarantines the plugin; what waited for it is dropped with it.
        if (isOutpostError(err)) this.#logger.debug({ plugin: name, err }, `${kind} plugin call failed`);
        else this.#logger.error({ plugin: name, err }, `${kind} plugin call failed`);
        lane.dropped += lane.pending.length;
        lane.pending.length = 0;
      }
    }
  }

  #onLog(entry: PluginLogEntry): void {
    let lines = this.#logs.get(entry.plugin);
    if (lines === undefined) {
      lines = [];
      this.#logs.set(entry.plugin, lines);
    }
    lines.push(entry);
    const max = this.#options.logLines ?? 500;
    if (lines.length > max) lines.splice(0, lines.length - max);
    // Nested: a plugin's attrs must not overwrite pino's own fields (level, time, msg).
    this.#logger[entry.level]({ plugin: entry.plugin, attrs: entry.attrs }, entry.message);
  }
}

/** Errors leave the runtime as agent-core OutpostErrors, whatever part raised them. */
function settle<T>(work: Promise<T>): Promise<T> {
  return work.catch((err: unknown) => {
    throw asOutpostError(err);
  });
}

/** The config as the store would keep it (defaults filled in); as given when it does not validate. */
function withDefaults(manifest: PluginManifest, config: Record<string, unknown>): Record<string, unknown> {
  try {
    return validatePluginConfig(manifest, config);
  } catch {
    return config;
  }
}

function sandboxLimits(limits: Partial<PluginLimitsConfig>): Partial<SandboxLimits> {
  const out: Partial<SandboxLimits> = {};
  if (limits.memory !== undefined) out.memoryLimitMb = Math.max(8, Math.floor(limits.memory / (1024 * 1024)));
  if (limits.timeout !== undefined) out.timeoutMs = limits.timeout;
  if (limits.cpu_budget !== undefined) out.cpuBudgetMs = limits.cpu_budget;
  if (limits.cpu_window !== undefined) out.cpuWindowMs = limits.cpu_window;
  if (limits.max_records_per_call !== undefined) out.maxRecordsPerCall = limits.max_records_per_call;
  return out;
}

function policyOf(config: PluginsConfig): PluginPolicy {
  return {
    restartInitialMs: config.restart.initial_backoff,
    restartMaxMs: config.restart.max_backoff,
    maxFailures: config.restart.quarantine_after,
    failureWindowMs: config.restart.failure_window,
  };
}

function overriddenKeys(override: PluginsConfig['overrides'][string] | undefined): string[] {
  if (override === undefined) return [];
  const keys = (['enabled', 'interval', 'config'] as const).filter((key) => override[key] !== undefined);
  return Object.keys(override.limits).length > 0 ? [...keys, 'limits'] : keys;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
