import type { PluginManifest } from '@outpost/plugin-sdk/manifest';
import type { PluginLogEntry, PluginStats, SandboxLimits } from '@outpost/plugin-sdk/sandbox';

/**
 * What the host needs to load one installed plugin. The daemon parses and checks the manifest and
 * validates the config, so the plugin host never loads zod, ajv or semver (about 20 MB of RSS).
 */
export interface LoadSpec {
  name: string;
  /** As readPluginPackage parsed it from the installed plugin. */
  manifest: PluginManifest;
  /** Real path of the installed bundle, inside the plugin's directory. */
  entryPath: string;
  /** The bundle must still have this sha256 when the host reads it. */
  sha256: string;
  /** Validated against manifest.configSchema (validatePluginConfig), defaults applied. */
  config: Record<string, unknown>;
  stateFile: string;
  maxStateBytes?: number;
  limits?: Partial<SandboxLimits>;
}

export type CallMethod = 'collect' | 'process' | 'rule' | 'action';

export type HostRequest =
  | { id: number; op: 'load'; spec: LoadSpec }
  | { id: number; op: 'unload'; name: string }
  /** `input`: JSON pieces of the records (or the alert; toJsonPieces), passed on undecoded by the plugin host. */
  | { id: number; op: 'call'; name: string; method: CallMethod; input: string[] | undefined }
  | { id: number; op: 'stats' }
  | { id: number; op: 'shutdown' };

export interface WireError {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface SandboxReport extends PluginStats {
  alive: boolean;
}

/** A call's `value` is a PluginOutput: its records are still JSON pieces, checked by the daemon. */
export type HostMessage =
  | { type: 'ready' }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: WireError }
  | { type: 'log'; entry: PluginLogEntry }
  | { type: 'fatal'; plugin: string; message: string };
