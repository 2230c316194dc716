export type { ConfigProblem } from './errors.ts';
export type {
  CollectorConfig,
  CollectorConfigFlags,
  CollectorLimits,
  LoadCollectorConfigOptions,
  SinkConfig,
} from './load.ts';
export { loadCollectorConfig } from './load.ts';
export type { LogFormat, LogLevel } from './schema.ts';
export { LOG_FORMATS, LOG_LEVELS } from './schema.ts';
export type { ListenAddress } from './units.ts';
export { formatListen, parseDuration, parseSize } from './units.ts';
