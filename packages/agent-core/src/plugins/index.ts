export {
  hostClosed,
  hostDied,
  pluginNotInstalled,
  pluginQuarantined,
  sha256Mismatch,
  stateTooLarge,
} from './errors.ts';
export type { PluginHostOptions } from './host.ts';
export { PluginHost } from './host.ts';
export type { CallMethod, LoadSpec, SandboxReport } from './protocol.ts';
export { DEFAULT_MAX_STATE_BYTES, FileStateStore } from './state.ts';
export type {
  InstalledPlugin,
  InstallOptions,
  InstallPhase,
  PluginStoreOptions,
  RegistryEntry,
} from './store.ts';
export { PluginStore } from './store.ts';
export type {
  PluginRuntimeStats,
  PluginState,
  PluginSupervisorOptions,
} from './supervisor.ts';
export { PluginSupervisor } from './supervisor.ts';
