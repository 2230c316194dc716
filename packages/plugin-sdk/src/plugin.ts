// What a plugin author imports. This file is bundled into the plugin and runs inside the isolate,
// so it must not import anything: no Node modules, no zod, no ajv.
import type { AttrValue, OutpostRecord, RecordKind } from './record.ts';

/** The plugin API version this SDK speaks; the manifest's `apiVersion` must match it. */
export const PLUGIN_API_VERSION = 1;

export const CAPABILITIES = ['collect', 'process', 'rule', 'action'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A record as a plugin produces it. The host fills in what is missing: `ts` from the clock,
 * `attrs` as `{}`, and `source` as `plugin:<name>` (process plugins may keep the source of the
 * records they transform).
 */
export interface RecordInput {
  kind: RecordKind;
  name: string;
  ts?: number;
  value?: number;
  unit?: string;
  body?: string;
  attrs?: Record<string, AttrValue>;
  source?: string;
}

export type AlertState = 'firing' | 'resolved';
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** Every alert carries its state and severity as attributes, next to whatever else the rule adds. */
export type AlertAttrs = Record<string, AttrValue> & { state: AlertState; severity: AlertSeverity };

export interface AlertInput extends RecordInput {
  kind: 'alert';
  attrs: AlertAttrs;
}

export interface AlertRecord extends OutpostRecord {
  kind: 'alert';
  attrs: AlertAttrs;
}

export interface PluginLog {
  debug(message: string, attrs?: Record<string, AttrValue>): void;
  info(message: string, attrs?: Record<string, AttrValue>): void;
  warn(message: string, attrs?: Record<string, AttrValue>): void;
  error(message: string, attrs?: Record<string, AttrValue>): void;
}

/** Key-value state the agent persists across calls, restarts and reconfigurations. */
export interface PluginState {
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>;
  set(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface PluginClock {
  /** Unix time in milliseconds; a fake clock in tests. */
  now(): number;
}

export interface HttpRequest {
  /** Absolute http(s) URL whose origin is listed in the manifest's `permissions.http`. */
  url: string;
  /** Default GET. */
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Default 10000, and never past the end of the current call. */
  timeoutMs?: number;
  /** 'follow' (default, up to 5 hops, each to an allowed origin) or 'manual' (return the 3xx). */
  redirect?: 'follow' | 'manual';
}

export interface TlsInfo {
  /** Unix ms. */
  validFrom: number;
  /** Unix ms; the expiry date of the server's certificate. */
  validTo: number;
  subject: string;
  issuer: string;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body as UTF-8 text. */
  body: string;
  /** The URL that answered, after redirects. */
  url: string;
  /** Wall time from sending to the end of the body, connect and TLS included. */
  durationMs: number;
  /** Present for https: the certificate of the server that answered. */
  tls?: TlsInfo;
}

export interface PluginHttp {
  /**
   * Performed by the host (the isolate has no network). Rejects with an error whose `code` is
   * E_PLUGIN_PERMISSION for an origin not in `permissions.http` (also after a redirect), or
   * E_PLUGIN_HTTP for a network error, a timeout or a body over the size limit.
   */
  request(request: HttpRequest): Promise<HttpResponse>;
}

export interface PluginFiles {
  /**
   * Reads a UTF-8 file whose real path (symlinks resolved) matches a glob of `permissions.files`.
   * Rejects with code E_PLUGIN_PERMISSION outside the globs, E_PLUGIN_FILE when it cannot be read
   * or is over the size limit.
   */
  read(path: string): Promise<string>;
}

/** The host API: the only things a plugin can reach. */
export interface PluginContext<Config = Record<string, unknown>> {
  /** The plugin's config, validated against the manifest's configSchema, defaults applied. Frozen. */
  readonly config: Readonly<Config>;
  readonly plugin: { readonly name: string; readonly version: string };
  readonly log: PluginLog;
  /**
   * Adds records to the output of the current collect/process/rule/action call. The record is
   * copied at once; later changes to the object do not matter. Not available in start/stop.
   */
  emit(records: RecordInput | readonly RecordInput[]): void;
  readonly state: PluginState;
  readonly clock: PluginClock;
  readonly http: PluginHttp;
  readonly files: PluginFiles;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * The four capabilities and two hooks. Declare the capabilities you implement in the manifest's
 * `capabilities`. Every function receives copies: changing the records you get changes nothing
 * on the host.
 */
export interface PluginDefinition<Config = Record<string, unknown>> {
  /** Once after load, before any other call. */
  start?(ctx: PluginContext<Config>): MaybePromise<void>;
  /** Once before the plugin is unloaded (disable, reconfigure, agent shutdown). */
  stop?(ctx: PluginContext<Config>): MaybePromise<void>;
  /** Scheduled every `collectIntervalMs`: return records, `ctx.emit` them, or both. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a collect() that only emits has no return statement
  collect?(ctx: PluginContext<Config>): MaybePromise<readonly RecordInput[] | void>;
  /** A batch of records in, the records to keep out (transform, filter, aggregate). */
  process?(records: OutpostRecord[], ctx: PluginContext<Config>): MaybePromise<readonly RecordInput[]>;
  /** Records in, alerts out (kind 'alert', attrs.state and attrs.severity). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a rule() with nothing to report may return nothing
  rule?(records: OutpostRecord[], ctx: PluginContext<Config>): MaybePromise<readonly AlertInput[] | void>;
  /** Runs when an alert fires or resolves, with the alert as input. */
  action?(alert: AlertRecord, ctx: PluginContext<Config>): MaybePromise<void>;
}

/** The bundle's default export: `export default definePlugin({ ... })`. Typing only; returns `def`. */
export function definePlugin<Config = Record<string, unknown>>(
  def: PluginDefinition<Config>,
): PluginDefinition<Config> {
  return def;
}

/** Builds an alert record for a rule's output. */
export function alert(input: {
  name: string;
  state: AlertState;
  severity: AlertSeverity;
  ts?: number;
  body?: string;
  attrs?: Record<string, AttrValue>;
}): AlertInput {
  const out: AlertInput = {
    kind: 'alert',
    name: input.name,
    attrs: { ...input.attrs, state: input.state, severity: input.severity },
  };
  if (input.ts !== undefined) out.ts = input.ts;
  if (input.body !== undefined) out.body = input.body;
  return out;
}
