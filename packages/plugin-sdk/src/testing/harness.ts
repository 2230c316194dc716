import type { PluginManifest, PluginPermissions } from '../manifest/index.ts';
import { parseOrigin, readPluginPackage } from '../manifest/index.ts';
import type { AlertInput, AlertRecord, RecordInput } from '../plugin.ts';
import type { OutpostRecord } from '../record.ts';
import {
  MemoryStateStore,
  normalizeRecords,
  type PluginLogEntry,
  PluginSandbox,
  type PluginStats,
  type SandboxLimits,
  type StateStore,
} from '../sandbox/index.ts';
import { FakeClock } from './clock.ts';

export interface LoadPluginOptions {
  /** The plugin's config; validated against its configSchema like the agent does. */
  config?: unknown;
  /** Default: a new FakeClock. */
  clock?: FakeClock;
  /** Default: a new MemoryStateStore. Pass one to keep state across loads. */
  state?: StateStore;
  /** Replaces the manifest's lists that are given, e.g. `{ http: ['http://127.0.0.1:<port>'] }` for a test server. */
  permissions?: { http?: string[]; files?: string[] };
  limits?: Partial<SandboxLimits>;
  /** Extra CA certificates (PEM) for https test servers. */
  httpCa?: string;
  /** Run the plugin's start() hook after loading, as the agent does. Default true. */
  start?: boolean;
}

/** A built plugin loaded in the same sandbox the agent uses, for node:test. */
export class PluginHarness {
  readonly manifest: PluginManifest;
  readonly sandbox: PluginSandbox;
  readonly clock: FakeClock;
  readonly state: StateStore;
  /** Every record collect, process, rule and action produced, in order. */
  readonly emitted: OutpostRecord[] = [];
  /** Every log line of the plugin (ctx.log and console). */
  readonly logs: PluginLogEntry[];
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(sandbox: PluginSandbox, clock: FakeClock, state: StateStore, logs: PluginLogEntry[]) {
    this.manifest = sandbox.manifest;
    this.sandbox = sandbox;
    this.clock = clock;
    this.state = state;
    this.logs = logs;
  }

  async start(): Promise<void> {
    await this.sandbox.start();
    this.#started = true;
  }

  async stop(): Promise<void> {
    this.#started = false;
    await this.sandbox.stop();
  }

  async collect(): Promise<OutpostRecord[]> {
    return this.#keep(await this.sandbox.collect());
  }

  /** Records may leave out ts (the fake clock's now), attrs and source ("test"). */
  async process(records: readonly RecordInput[]): Promise<OutpostRecord[]> {
    return this.#keep(await this.sandbox.process(this.#complete(records)));
  }

  async rule(records: readonly RecordInput[]): Promise<AlertRecord[]> {
    return this.#keep(await this.sandbox.rule(this.#complete(records))) as AlertRecord[];
  }

  async action(alert: AlertInput): Promise<OutpostRecord[]> {
    const [complete] = this.#complete([alert]);
    return this.#keep(await this.sandbox.action(complete as AlertRecord));
  }

  stats(): PluginStats {
    return this.sandbox.stats();
  }

  /** Runs stop() if the plugin was started and still runs, then disposes the sandbox. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        if (this.#started && this.sandbox.alive) await this.stop();
      } finally {
        await this.sandbox.dispose();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #complete(records: readonly RecordInput[]): OutpostRecord[] {
    return normalizeRecords(records, 'records', { now: this.clock.now(), source: 'test', keepSource: true });
  }

  #keep<T extends OutpostRecord>(records: T[]): T[] {
    for (const record of records) this.emitted.push(record);
    return records;
  }
}

function overridePermissions(
  manifest: PluginManifest,
  given: LoadPluginOptions['permissions'],
): PluginPermissions | undefined {
  if (given === undefined) return undefined;
  const http = given.http?.map((value) => {
    const origin = parseOrigin(value);
    if (origin === undefined)
      throw new TypeError(
        `loadPlugin: permissions.http: ${value} is not an origin like http://127.0.0.1:8080`,
      );
    return origin;
  });
  return { http: http ?? manifest.permissions.http, files: given.files ?? manifest.permissions.files };
}

/**
 * Loads a built plugin (its directory or its outpost-plugin.json: the manifest and the bundle it
 * names) into a PluginSandbox and runs start(). Run the tests with `node --no-node-snapshot --test`.
 */
export async function loadPlugin(
  dirOrManifestPath: string,
  options: LoadPluginOptions = {},
): Promise<PluginHarness> {
  const pkg = await readPluginPackage(dirOrManifestPath);
  const clock = options.clock ?? new FakeClock();
  const state = options.state ?? new MemoryStateStore();
  const logs: PluginLogEntry[] = [];
  const permissions = overridePermissions(pkg.manifest, options.permissions);
  const sandbox = await PluginSandbox.load({
    manifest: pkg.manifest,
    code: pkg.code,
    config: options.config,
    clock,
    state,
    onLog: (entry) => logs.push(entry),
    ...(permissions !== undefined && { permissions }),
    ...(options.limits !== undefined && { limits: options.limits }),
    ...(options.httpCa !== undefined && { httpCa: options.httpCa }),
  });
  const harness = new PluginHarness(sandbox, clock, state, logs);
  if (options.start ?? true) {
    try {
      await harness.start();
    } catch (err) {
      await sandbox.dispose();
      throw err;
    }
  }
  return harness;
}
