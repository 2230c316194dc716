export type { ConfigIssue } from './errors.ts';
export { ConfigError } from './errors.ts';
export type { LoadConfigOptions, LoadedConfig, ParseConfigOptions } from './load.ts';
export { DEFAULT_CONFIG_PATH, defaultConfig, loadConfig, parseConfig } from './load.ts';
export type {
  AgentConfig,
  LogLevel,
  PluginLimitsConfig,
  PluginsConfig,
  ProcessMatch,
  SystemMetricGroup,
} from './schema.ts';
export { LOG_LEVELS, SYSTEM_METRIC_GROUPS } from './schema.ts';
export { parseDuration, parseSize } from './units.ts';
