import ivm from 'isolated-vm';
import { isOutpostError, type OutpostError } from '../errors.ts';
import type { PluginManifest, PluginPermissions } from '../manifest/index.ts';
import type { AlertRecord, Capability, JsonValue } from '../plugin.ts';
import type { AttrValue, OutpostRecord } from '../record.ts';
import { outputInvalid } from '../records/errors.ts';
import { type OutputMethod, type PluginOutput, readPluginOutput } from '../records/output.ts';
import { isJsonPieces, RECORDS_PER_PIECE, toJsonPieces } from '../records/pieces.ts';
import { BOOTSTRAP } from './bootstrap.ts';
import {
  BOOTSTRAP_FILENAME,
  callTimedOut,
  capabilityMissing,
  catastrophic,
  cpuExceeded,
  cpuSpent,
  firstFrame,
  hostCallFailed,
  loadFailed,
  memoryExceeded,
  pluginThrew,
  sandboxClosed,
  sandboxDead,
  type ThrownError,
} from './errors.ts';
import { PluginFileReader } from './files.ts';
import { PluginHttpClient } from './http.ts';
import { DEFAULT_LIMITS, type SandboxLimits } from './limits.ts';
import { type Clock, MemoryStateStore, type StateStore, systemClock } from './state.ts';

export type PluginLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface PluginLogEntry {
  plugin: string;
  level: PluginLogLevel;
  message: string;
  attrs?: Record<string, AttrValue>;
  /** From the sandbox's clock. */
  ts: number;
}

/** What the sandbox logs to: pino's Logger fits. */
export interface SandboxLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface PluginSandboxOptions {
  /** A manifest from parseManifest/readPluginPackage. */
  manifest: PluginManifest;
  /** The bundle's source: one self-contained ESM file. */
  code: string;
  /** The plugin's config; validated against manifest.configSchema (E_PLUGIN_CONFIG), defaults applied. */
  config?: unknown;
  /**
   * `config` is already the result of validatePluginConfig for this manifest (the agent's daemon
   * validates before it loads), so the sandbox does not load the validator: ajv costs the plugin
   * host several MB of RSS.
   */
  configValidated?: boolean;
  /** Replaces the manifest's permissions (the test harness points plugins at local servers with it). */
  permissions?: PluginPermissions;
  /** Default: a MemoryStateStore. */
  state?: StateStore;
  /** Default: the system clock. */
  clock?: Clock;
  limits?: Partial<SandboxLimits>;
  /** Extra CA certificates (PEM) trusted for the plugin's https requests, next to Node's own. */
  httpCa?: string;
  /** The sandbox's own warnings, and the plugin's log lines when there is no `onLog`. */
  logger?: SandboxLogger;
  /** Receives every log line of the plugin (ctx.log and console). */
  onLog?: (entry: PluginLogEntry) => void;
  /**
   * V8 lost control of the isolate (isolated-vm onCatastrophicError). The sandbox is then dead; the
   * process hosting it should finish what it can and exit, which is why plugins run in a child process.
   */
  onCatastrophicError?: (message: string) => void;
}

export interface PluginStats {
  calls: number;
  /** Failed calls, timeouts included (not output that a callJson caller's readPluginOutput refuses). */
  errors: number;
  timeouts: number;
  /** CPU time the isolate used since it was created. */
  cpuTimeMs: number;
  /** V8 heap used plus memory allocated outside it (ArrayBuffers); refreshed after calls, at most once a second. */
  heapUsedBytes: number;
  recordsIn: number;
  recordsOut: number;
}

type Method = Capability | 'start' | 'stop';

/** What the bootstrap's dispatch says about a call, beside the output's JSON pieces. */
interface DispatchStatus {
  ok: boolean;
  error?: ThrownError;
  output?: string;
  overflow?: string | null;
  /** Records in and out as the isolate counted them: for the stats only, never trusted. */
  in?: number;
  out?: number;
}

/** One host -> isolate call in flight. */
interface ActiveCall {
  method: Method;
  /** performance.now() at which the call times out. */
  deadline: number;
  cpuStartNs: bigint;
  /** CPU the window allowed when the call began. */
  cpuAllowedMs: number;
  abort: AbortController;
  fail: (err: OutpostError) => void;
  /** A host call refused for lack of permission: reported instead of what the plugin threw. */
  denied: OutpostError | undefined;
  pendingHostCalls: number;
  /** Stopped on the CPU budget: the call is charged all it was allowed, whatever a busy machine gave it. */
  spentBudget: boolean;
  logLines: number;
  logsDropped: number;
}

const TIMED_OUT = 'Script execution timed out.';
const noop = () => {};
// An abort() without a reason builds a DOMException, stack included, on every call.
const CALL_ENDED = new Error('the plugin call ended');

/**
 * One plugin in one isolated-vm isolate. The plugin reaches the host only through the callbacks of
 * ctx (log, clock, and host calls for state, http and files, each checked here); values cross as
 * copies. Calls run one at a time. Every entry into the isolate carries a timeout, which isolated-vm
 * enforces by terminating the running code; the isolate survives that. Going over the memory limit
 * disposes the isolate: the sandbox is then dead (`alive` false) and must be loaded again.
 */
export class PluginSandbox {
  readonly manifest: PluginManifest;
  /** The validated config, defaults applied. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly #name: string;
  readonly #limits: SandboxLimits;
  readonly #state: StateStore;
  readonly #clock: Clock;
  readonly #logger: SandboxLogger | undefined;
  readonly #onLog: ((entry: PluginLogEntry) => void) | undefined;
  readonly #http: PluginHttpClient;
  readonly #files: PluginFileReader;
  #isolate!: ivm.Isolate;
  #context!: ivm.Context;
  #dispatch!: ivm.Reference;
  #settle!: ivm.Reference;
  #hooks = { start: false, stop: false };
  #active: ActiveCall | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #dead: OutpostError | undefined;
  #closing: Promise<void> | undefined;
  #lastCpuNs = 0n;
  #cpuWindow: { at: number; ms: number }[] = [];
  #cpuWindowMs = 0;
  #heapUsed = 0;
  #heapPending = false;
  #heapAt = Number.NEGATIVE_INFINITY;
  #loadLogLines = 0;
  readonly #counters = { calls: 0, errors: 0, timeouts: 0, recordsIn: 0, recordsOut: 0 };

  private constructor(options: PluginSandboxOptions, config: Record<string, unknown>) {
    this.manifest = options.manifest;
    this.#name = options.manifest.name;
    this.config = config;
    this.#limits = checkLimits(this.#name, { ...DEFAULT_LIMITS, ...options.limits });
    this.#state = options.state ?? new MemoryStateStore();
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#onLog = options.onLog;
    const permissions = options.permissions ?? options.manifest.permissions;
    this.#http = new PluginHttpClient({
      plugin: this.#name,
      origins: permissions.http,
      maxResponseBytes: this.#limits.maxHttpResponseBytes,
      ca: options.httpCa,
    });
    this.#files = new PluginFileReader({
      plugin: this.#name,
      globs: permissions.files,
      maxBytes: this.#limits.maxFileBytes,
    });
  }

  /**
   * Validates the config, creates the isolate, installs the host API and evaluates the bundle.
   * E_PLUGIN_CONFIG for a bad config, E_PLUGIN_LOAD for everything else that goes wrong.
   */
  static async load(options: PluginSandboxOptions): Promise<PluginSandbox> {
    // Imported on demand: a process whose configs arrive validated never loads ajv.
    const config = options.configValidated
      ? structuredClone((options.config ?? {}) as Record<string, unknown>)
      : (await import('../manifest/config.ts')).validatePluginConfig(options.manifest, options.config);
    const sandbox = new PluginSandbox(options, config);
    await sandbox.#boot(options.code, options.onCatastrophicError);
    return sandbox;
  }

  get name(): string {
    return this.#name;
  }

  /** False once the isolate is gone (memory limit, catastrophic error) or the sandbox was disposed. */
  get alive(): boolean {
    return this.#dead === undefined && this.#closing === undefined && !this.#isolate.isDisposed;
  }

  /** Why the sandbox died, while it is dead. */
  get deathReason(): OutpostError | undefined {
    return this.#dead;
  }

  /** Runs the plugin's start() hook, if it has one. */
  async start(): Promise<void> {
    if (!this.#hooks.start) return this.#checkUsable('start');
    await this.#call('start', undefined);
  }

  /** Runs the plugin's stop() hook, if it has one. */
  async stop(): Promise<void> {
    if (!this.#hooks.stop) return this.#checkUsable('stop');
    await this.#call('stop', undefined);
  }

  /** Records the plugin returned and emitted, checked and completed (ts, attrs, source). */
  async collect(): Promise<OutpostRecord[]> {
    return this.#records('collect', undefined);
  }

  /** The plugin gets a copy of `records`; what it returns (and emits) replaces them. */
  async process(records: readonly OutpostRecord[]): Promise<OutpostRecord[]> {
    return this.#records('process', toJsonPieces(records));
  }

  /** Alerts (kind 'alert') the rule produced from `records`. */
  async rule(records: readonly OutpostRecord[]): Promise<AlertRecord[]> {
    return (await this.#records('rule', toJsonPieces(records))) as AlertRecord[];
  }

  /** Runs the action on `alert`; returns the records it emitted, if any. */
  async action(alert: AlertRecord): Promise<OutpostRecord[]> {
    return this.#records('action', toJsonPieces(alert));
  }

  /**
   * One capability call with its input as JSON pieces (toJsonPieces of the records of process and
   * rule, of the alert of an action; nothing for collect), its output left as JSON pieces and
   * unchecked: whoever needs the records decodes them with readPluginOutput
   * (@outpost/plugin-sdk/records). The plugin host uses this so that records cross it without
   * being decoded there.
   */
  async callJson(method: OutputMethod, input?: readonly string[]): Promise<PluginOutput> {
    if ((method === 'collect') !== (input === undefined)) {
      throw new TypeError(
        `callJson(${method}): ${method === 'collect' ? 'collect takes no input' : 'the input (JSON pieces) is missing'}`,
      );
    }
    if (input !== undefined && (!isJsonPieces(input) || input.length === 0)) {
      throw new TypeError(`callJson(${method}): the input must be JSON pieces (toJsonPieces)`);
    }
    return this.#call(method, input) as Promise<PluginOutput>;
  }

  stats(): PluginStats {
    return {
      ...this.#counters,
      cpuTimeMs: Number(this.#readCpu()) / 1e6,
      heapUsedBytes: this.#heapUsed,
    };
  }

  /**
   * Refuses new calls, waits for the one in flight (bounded by its timeout) and disposes the
   * isolate. Does not run stop(): call it first. Safe to call twice; returns the same promise.
   */
  dispose(): Promise<void> {
    this.#closing ??= this.#tail.then(noop, noop).then(() => this.#release());
    return this.#closing;
  }

  async #boot(code: string, onCatastrophicError: ((message: string) => void) | undefined): Promise<void> {
    const limits = this.#limits;
    this.#isolate = new ivm.Isolate({
      memoryLimit: limits.memoryLimitMb,
      onCatastrophicError: (message) => {
        this.#dead ??= catastrophic(this.#name, message);
        this.#logger?.error({ plugin: this.#name, err: message }, 'plugin isolate: catastrophic error');
        onCatastrophicError?.(message);
      },
    });
    const filename = `file:///plugins/${this.#name}/${this.manifest.entry}`;
    try {
      this.#context = await this.#isolate.createContext();
      const settings = JSON.stringify({
        name: this.#name,
        version: this.manifest.version,
        config: JSON.stringify(this.config),
        maxRecords: limits.maxRecordsPerCall,
        maxOutputBytes: limits.maxOutputBytes,
        piece: RECORDS_PER_PIECE,
      });
      const api = (await this.#context.evalClosure(
        BOOTSTRAP,
        [
          new ivm.Callback((level: string, message: string, attrs: string | undefined) =>
            this.#pluginLog(level, message, attrs),
          ),
          new ivm.Callback(() => this.#clock.now()),
          new ivm.Callback((id: number, kind: string, args: string) => this.#startHostCall(id, kind, args)),
          settings,
        ],
        { result: { reference: true }, timeout: limits.timeoutMs, filename: BOOTSTRAP_FILENAME },
      )) as ivm.Reference;
      const attach = api.getSync('attach', { reference: true }) as ivm.Reference;
      this.#dispatch = api.getSync('dispatch', { reference: true }) as ivm.Reference;
      this.#settle = api.getSync('settle', { reference: true }) as ivm.Reference;
      api.release();

      // No cachedData: compiled code is only ever produced here, from the bundle's text.
      const module = await this.#isolate.compileModule(code, { filename }).catch((err: Error) => {
        throw loadFailed(
          this.#name,
          `${this.manifest.entry} does not compile: ${err.name}: ${err.message}`,
          {},
          err,
        );
      });
      if (module.dependencySpecifiers.length > 0) {
        const names = module.dependencySpecifiers.map((s) => JSON.stringify(s)).join(', ');
        throw loadFailed(
          this.#name,
          `${this.manifest.entry} imports ${names}; a plugin bundle is one self-contained ESM file without imports (bundle dependencies in with tsup noExternal; Node modules are not available)`,
          { imports: module.dependencySpecifiers },
        );
      }
      await module.instantiate(this.#context, (specifier) => {
        throw new Error(`import of ${specifier} refused`);
      });
      await module.evaluate({ timeout: limits.timeoutMs }).catch((err: Error) => {
        throw this.#loadError('evaluating the bundle', err);
      });
      const attached = JSON.parse(
        (await attach
          .apply(undefined, [module.namespace.derefInto(), JSON.stringify(this.manifest.capabilities)], {
            result: { copy: true },
            timeout: limits.timeoutMs,
          })
          .catch((err: Error) => {
            throw this.#loadError('reading the default export', err);
          })) as string,
      ) as { error?: string; start: boolean; stop: boolean };
      attach.release();
      if (attached.error !== undefined) throw loadFailed(this.#name, attached.error);
      this.#hooks = { start: attached.start, stop: attached.stop };
      this.#readCpu();
      await this.#refreshHeap(true);
    } catch (err) {
      this.#release();
      if (isOutpostError(err)) throw err;
      throw loadFailed(this.#name, (err as Error).message, {}, err);
    }
  }

  #loadError(during: string, err: Error): OutpostError {
    if (this.#isolate.isDisposed) {
      return loadFailed(
        this.#name,
        `went over the memory limit of ${this.#limits.memoryLimitMb} MB ${during}`,
        {
          reason: 'E_PLUGIN_MEMORY',
        },
      );
    }
    if (err.message === TIMED_OUT) {
      return loadFailed(this.#name, `${during} took longer than ${this.#limits.timeoutMs} ms`, {
        reason: 'E_PLUGIN_TIMEOUT',
      });
    }
    const frame = firstFrame(err.stack);
    return loadFailed(
      this.#name,
      `${during} threw ${err.name}: ${err.message}${frame ? ` (${frame})` : ''}`,
      {
        reason: 'E_PLUGIN_THREW',
      },
    );
  }

  #release(): void {
    this.#active?.abort.abort();
    if (this.#isolate !== undefined && !this.#isolate.isDisposed) {
      this.#readCpu();
      this.#isolate.dispose();
    }
  }

  /** `accepted`: the call was queued before dispose() and still runs. */
  #checkUsable(method: Method, accepted = false): void {
    if (this.#closing !== undefined && !accepted) throw sandboxClosed(this.#name);
    if (this.#dead !== undefined) throw sandboxDead(this.#name, this.#dead);
    if (this.#isolate.isDisposed) {
      this.#dead = memoryExceeded(this.#name, method, this.#limits.memoryLimitMb);
      throw sandboxDead(this.#name, this.#dead);
    }
    if (method !== 'start' && method !== 'stop' && !this.manifest.capabilities.includes(method)) {
      throw capabilityMissing(this.#name, method, this.manifest.capabilities);
    }
  }

  async #records(method: OutputMethod, input: string[] | undefined): Promise<OutpostRecord[]> {
    const output = await this.callJson(method, input);
    try {
      return readPluginOutput(output);
    } catch (err) {
      this.#counters.errors++;
      throw err;
    }
  }

  #call(method: Method, input: readonly string[] | undefined): Promise<PluginOutput | undefined> {
    this.#checkUsable(method);
    const run = this.#tail.then(() => this.#callNow(method, input));
    this.#tail = run.catch(noop);
    return run;
  }

  async #callNow(method: Method, input: readonly string[] | undefined): Promise<PluginOutput | undefined> {
    this.#checkUsable(method, true);
    const limits = this.#limits;
    const cpuAllowedMs = this.#cpuLeftMs();
    if (cpuAllowedMs <= 0) {
      this.#counters.calls++;
      this.#counters.errors++;
      throw cpuSpent(
        this.#name,
        method,
        limits.cpuBudgetMs - cpuAllowedMs,
        limits.cpuBudgetMs,
        this.#cpuRetryAfterMs(),
      );
    }
    this.#counters.calls++;
    const call: ActiveCall = {
      method,
      deadline: performance.now() + limits.timeoutMs,
      cpuStartNs: this.#readCpu(),
      cpuAllowedMs,
      abort: new AbortController(),
      fail: noop,
      denied: undefined,
      pendingHostCalls: 0,
      spentBudget: false,
      logLines: 0,
      logsDropped: 0,
    };
    const failed = new Promise<never>((_, reject) => {
      call.fail = reject;
    });
    failed.catch(noop);
    const timer = setTimeout(
      () => call.fail(callTimedOut(this.#name, method, limits.timeoutMs)),
      limits.timeoutMs,
    );
    timer.unref();
    this.#active = call;
    try {
      const { timeout, cpuBound } = this.#taskTimeout(call);
      const entered = this.#dispatch
        .apply(undefined, input === undefined ? [method] : [method, ...input], {
          arguments: { copy: true },
          result: { copy: true, promise: true },
          timeout,
        })
        .catch((err: Error) => {
          throw this.#classify(err, call, cpuBound);
        });
      return this.#readStatus(call, await Promise.race([entered, failed]));
    } catch (err) {
      this.#counters.errors++;
      if (isOutpostError(err, 'E_PLUGIN_TIMEOUT')) this.#counters.timeouts++;
      throw err;
    } finally {
      clearTimeout(timer);
      call.abort.abort(CALL_ENDED);
      this.#active = undefined;
      if (call.logsDropped > 0) {
        this.#logger?.warn(
          { plugin: this.#name, dropped: call.logsDropped },
          `plugin log lines over limits.maxLogLinesPerCall (${limits.maxLogLinesPerCall}) dropped`,
        );
      }
      const cpuMs = Number(this.#readCpu() - call.cpuStartNs) / 1e6;
      const charged = call.spentBudget ? Math.max(cpuMs, cpuAllowedMs) : cpuMs;
      this.#cpuWindow.push({ at: performance.now(), ms: charged });
      this.#cpuWindowMs += charged;
      void this.#refreshHeap();
    }
  }

  /**
   * The timeout of one task in the isolate: the call's remaining wall time, or its remaining CPU
   * budget when that is smaller. A task's wall time bounds its CPU time, so isolated-vm's timeout
   * also enforces the budget, without disposing the isolate.
   */
  #taskTimeout(call: ActiveCall): { timeout: number; cpuBound: boolean } {
    const wallLeft = call.deadline - performance.now();
    const cpuLeft = call.cpuAllowedMs - Number(this.#readCpu() - call.cpuStartNs) / 1e6;
    const cpuBound = cpuLeft < wallLeft;
    return { timeout: Math.max(1, Math.ceil(cpuBound ? cpuLeft : wallLeft)), cpuBound };
  }

  #classify(err: Error, call: ActiveCall, cpuBound: boolean): OutpostError {
    if (isOutpostError(err)) return err;
    if (this.#isolate.isDisposed) {
      if (this.#closing !== undefined && this.#dead === undefined) return sandboxClosed(this.#name);
      this.#dead ??= memoryExceeded(this.#name, call.method, this.#limits.memoryLimitMb);
      return this.#dead;
    }
    if (err.message === TIMED_OUT) {
      if (!cpuBound) return callTimedOut(this.#name, call.method, this.#limits.timeoutMs);
      call.spentBudget = true;
      return cpuExceeded(this.#name, call.method, this.#limits.cpuBudgetMs, this.#limits.cpuWindowMs);
    }
    return pluginThrew(this.#name, call.method, { name: err.name, message: err.message });
  }

  /** Reads the call's status; the records stay JSON pieces, measured but not decoded. */
  #readStatus(call: ActiveCall, raw: unknown): PluginOutput | undefined {
    const method = call.method;
    const [statusJson, returned, emitted] = raw as [unknown, unknown, unknown];
    const status = readDispatchStatus(statusJson);
    if (status === undefined) {
      throw outputInvalid(
        this.#name,
        method,
        'the call status is not readable (did the plugin change JSON or Object.prototype.toJSON?)',
      );
    }
    this.#counters.recordsIn += count(status.in);
    if (!status.ok) {
      if (status.output !== undefined) throw outputInvalid(this.#name, method, status.output);
      if (call.denied !== undefined && status.error?.code === 'E_PLUGIN_PERMISSION') throw call.denied;
      throw pluginThrew(this.#name, method, thrownOf(status.error));
    }
    if (call.denied !== undefined) {
      this.#logger?.warn(
        { plugin: this.#name, err: call.denied.message },
        'plugin caught a refused host call',
      );
    }
    if (status.overflow) throw outputInvalid(this.#name, method, status.overflow);
    if (method === 'start' || method === 'stop') return undefined;
    if (!isJsonPieces(returned) || !isJsonPieces(emitted)) {
      throw outputInvalid(this.#name, method, 'the sandbox returned no output');
    }
    let length = 0;
    for (const piece of returned) length += piece.length;
    for (const piece of emitted) length += piece.length;
    if (length > this.#limits.maxOutputBytes) {
      throw outputInvalid(
        this.#name,
        method,
        `more than ${this.#limits.maxOutputBytes} bytes (limits.maxOutputBytes)`,
      );
    }
    this.#counters.recordsOut += count(status.out);
    return {
      plugin: this.#name,
      method,
      returned,
      emitted,
      now: this.#clock.now(),
      maxRecords: this.#limits.maxRecordsPerCall,
    };
  }

  #pluginLog(level: string, message: string, attrsJson: string | undefined): void {
    const call = this.#active;
    const max = this.#limits.maxLogLinesPerCall;
    if (call !== undefined) {
      if (++call.logLines > max) {
        call.logsDropped++;
        return;
      }
    } else if (++this.#loadLogLines > max) {
      return;
    }
    const entry: PluginLogEntry = {
      plugin: this.#name,
      level: (['debug', 'info', 'warn', 'error'] as const).find((l) => l === level) ?? 'info',
      message: String(message).slice(0, this.#limits.maxLogLineChars),
      ts: this.#clock.now(),
    };
    const attrs = attrsJson === undefined ? undefined : readLogAttrs(attrsJson);
    if (attrs !== undefined) entry.attrs = attrs;
    if (this.#onLog !== undefined) this.#onLog(entry);
    else this.#logger?.[entry.level]({ plugin: this.#name, ...attrs }, entry.message);
  }

  /** A host call from the plugin: refused at once (returns the error as JSON) or answered later via settle. */
  #startHostCall(id: number, kind: string, args: string): string | undefined {
    const call = this.#active;
    if (call === undefined) {
      return JSON.stringify({
        code: 'E_PLUGIN_STATE',
        message: 'host calls are only available during a call',
      });
    }
    if (call.pendingHostCalls >= this.#limits.maxPendingHostCalls) {
      return JSON.stringify({
        code: 'E_PLUGIN_STATE',
        message: `more than ${this.#limits.maxPendingHostCalls} host calls in flight (limits.maxPendingHostCalls)`,
      });
    }
    call.pendingHostCalls++;
    this.#hostCall(call, kind, args).then(
      (value) => {
        call.pendingHostCalls--;
        this.#deliver(call, id, true, value === undefined ? undefined : JSON.stringify(value));
      },
      (err: unknown) => {
        call.pendingHostCalls--;
        const e = isOutpostError(err) ? err : this.#unexpectedHostError(kind, err);
        if (e.code === 'E_PLUGIN_PERMISSION') {
          call.denied ??= e;
          this.#logger?.warn({ plugin: this.#name, err: e.message }, 'plugin host call refused');
        }
        this.#deliver(call, id, false, JSON.stringify({ code: e.code, message: e.message }));
      },
    );
    return undefined;
  }

  async #hostCall(call: ActiveCall, kind: string, args: string): Promise<unknown> {
    const parsed = JSON.parse(args) as Record<string, unknown> | null;
    switch (kind) {
      case 'http':
        return this.#http.request(parsed, call.abort.signal, call.deadline - performance.now());
      case 'files.read':
        return this.#files.read(parsed?.path);
      case 'state.get':
        return this.#state.get(this.#stateKey(parsed?.key));
      case 'state.set': {
        const key = this.#stateKey(parsed?.key);
        const json = String(parsed?.value);
        if (json.length > this.#limits.maxStateValueBytes) {
          throw hostCallFailed(
            'E_PLUGIN_STATE',
            `state.set(${JSON.stringify(key)}): the value is ${json.length} bytes as JSON, over ${this.#limits.maxStateValueBytes} (limits.maxStateValueBytes)`,
          );
        }
        await this.#state.set(key, JSON.parse(json) as JsonValue);
        return undefined;
      }
      case 'state.delete':
        await this.#state.delete(this.#stateKey(parsed?.key));
        return undefined;
      default:
        throw hostCallFailed('E_PLUGIN_STATE', `unknown host call ${kind}`);
    }
  }

  #unexpectedHostError(kind: string, err: unknown): OutpostError {
    const message = String((err as Error)?.message ?? err);
    this.#logger?.warn({ plugin: this.#name, kind, err: message }, 'plugin host call failed');
    const code =
      kind === 'http' ? 'E_PLUGIN_HTTP' : kind === 'files.read' ? 'E_PLUGIN_FILE' : 'E_PLUGIN_STATE';
    return hostCallFailed(code, `${kind}: ${message}`);
  }

  #stateKey(key: unknown): string {
    if (typeof key !== 'string' || key.length === 0 || key.length > 256) {
      throw hostCallFailed('E_PLUGIN_STATE', 'state: a key must be a string of 1 to 256 characters');
    }
    return key;
  }

  /** Answers a host call inside the isolate, where the plugin's code resumes: that is a task too, timed. */
  #deliver(call: ActiveCall, id: number, ok: boolean, payload: string | undefined): void {
    if (this.#active !== call || this.#isolate.isDisposed) return;
    const { timeout, cpuBound } = this.#taskTimeout(call);
    this.#settle
      .apply(undefined, [id, ok, payload], { arguments: { copy: true }, timeout })
      .catch((err: Error) => call.fail(this.#classify(err, call, cpuBound)));
  }

  #readCpu(): bigint {
    if (this.#isolate !== undefined && !this.#isolate.isDisposed) {
      try {
        this.#lastCpuNs = this.#isolate.cpuTime;
      } catch {
        // Disposed between the check and the read: the last value stands.
      }
    }
    return this.#lastCpuNs;
  }

  #cpuLeftMs(): number {
    const since = performance.now() - this.#limits.cpuWindowMs;
    while (this.#cpuWindow.length > 0 && this.#cpuWindow[0]!.at < since) {
      this.#cpuWindowMs -= this.#cpuWindow.shift()!.ms;
    }
    if (this.#cpuWindow.length === 0) this.#cpuWindowMs = 0;
    return this.#limits.cpuBudgetMs - this.#cpuWindowMs;
  }

  #cpuRetryAfterMs(): number {
    const oldest = this.#cpuWindow[0];
    return oldest === undefined ? 0 : Math.max(0, oldest.at + this.#limits.cpuWindowMs - performance.now());
  }

  /** At most once a second: asking the isolate is a task of its own, on the path of every call. */
  async #refreshHeap(force = false): Promise<void> {
    if (this.#heapPending || this.#isolate.isDisposed) return;
    if (!force && performance.now() - this.#heapAt < 1000) return;
    this.#heapPending = true;
    this.#heapAt = performance.now();
    try {
      const heap = await this.#isolate.getHeapStatistics();
      this.#heapUsed = heap.used_heap_size + heap.externally_allocated_size;
    } catch {
      // The isolate went away meanwhile; the last figure stands.
    } finally {
      this.#heapPending = false;
    }
  }
}

/** The status comes from the isolate, where the plugin can tamper with what builds it. */
function readDispatchStatus(json: unknown): DispatchStatus | undefined {
  if (typeof json !== 'string') return undefined;
  try {
    const status = JSON.parse(json) as unknown;
    return typeof status === 'object' && status !== null ? (status as DispatchStatus) : undefined;
  } catch {
    return undefined;
  }
}

function thrownOf(error: unknown): ThrownError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const thrown: ThrownError = {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : 'unknown error',
  };
  if (typeof e.stack === 'string') thrown.stack = e.stack;
  if (typeof e.code === 'string') thrown.code = e.code;
  return thrown;
}

const count = (n: unknown): number => (Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : 0);

function checkLimits(plugin: string, limits: SandboxLimits): SandboxLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw loadFailed(plugin, `limits.${name} must be a positive number (got ${value})`);
    }
  }
  if (limits.memoryLimitMb < 8)
    throw loadFailed(plugin, 'limits.memoryLimitMb must be at least 8 (isolated-vm minimum)');
  return limits;
}

function readLogAttrs(json: string): Record<string, AttrValue> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const out: Record<string, AttrValue> = {};
  let count = 0;
  for (const [key, value] of Object.entries(parsed)) {
    if (count >= 32) break;
    if (typeof value === 'string') out[key] = value.slice(0, 1024);
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else continue;
    count++;
  }
  return out;
}
