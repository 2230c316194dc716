export {
  asOutpostError,
  hostClosed,
  hostDied,
  pluginNotInstalled,
  pluginQuarantined,
  sha256Mismatch,
  stateTooLarge,
} from './errors.ts';
export type { PluginHostOptions } from './host.ts';
export { PluginHost } from './host.ts';
export { registerPluginMetrics } from './metrics.ts';
export type { CallMethod, LoadSpec, SandboxReport } from './protocol.ts';
export type { InstallEvent } from './routes.ts';
export { pluginRoutes, pluginsDisabled } from './routes.ts';
export type {
  PluginDetails,
  PluginInstallOptions,
  PluginRuntimeOptions,
  PluginStatus,
} from './runtime.ts';
export { PluginRuntime } from './runtime.ts';
export { DEFAULT_MAX_STATE_BYTES, FileStateStore } from './state.ts';
export type {
  InstalledPlugin,
  InstallOptions,
  InstallPhase,
  PluginStoreOptions,
  RegistryEntry,
} from './store.ts';
export { PluginStore } from './store.ts';
export { parseStoreSpec, type StoreSpec } from './store-spec.ts';
export type {
  PluginPolicy,
  PluginRuntimeStats,
  PluginSettings,
  PluginState,
  PluginSupervisorOptions,
} from './supervisor.ts';
export { PluginSupervisor } from './supervisor.ts';
