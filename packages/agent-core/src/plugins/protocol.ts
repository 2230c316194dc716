import type { PluginLogEntry, PluginStats, SandboxLimits } from '@outpost/plugin-sdk/sandbox';

/** What the host needs to load one installed plugin. */
export interface LoadSpec {
  name: string;
  /** Installed plugin directory (manifest + entry). */
  dir: string;
  /** The entry must still have this sha256 when it is loaded. */
  sha256: string;
  config: Record<string, unknown>;
  stateFile: string;
  maxStateBytes?: number;
  limits?: Partial<SandboxLimits>;
}

export type CallMethod = 'collect' | 'process' | 'rule' | 'action';

export type HostRequest =
  | { id: number; op: 'load'; spec: LoadSpec }
  | { id: number; op: 'unload'; name: string }
  /** `input`: JSON text of the records (or the alert), so the plugin host passes it on undecoded. */
  | { id: number; op: 'call'; name: string; method: CallMethod; input: string | undefined }
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

/** A call's `value` is a PluginOutput: its records are still JSON text, checked by the daemon. */
export type HostMessage =
  | { type: 'ready' }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: WireError }
  | { type: 'log'; entry: PluginLogEntry }
  | { type: 'fatal'; plugin: string; message: string };
