export { isOutpostError, OutpostError } from '../errors.ts';
export type { NormalizeOptions, OutputMethod, PluginOutput } from '../records/index.ts';
export {
  normalizeRecord,
  normalizeRecords,
  RECORD_LIMITS,
  RecordProblem,
  readPluginOutput,
} from '../records/index.ts';
export { SANDBOX_ERROR_CODES } from './errors.ts';
export type { SandboxLimits } from './limits.ts';
export { DEFAULT_LIMITS } from './limits.ts';
export type {
  PluginLogEntry,
  PluginLogLevel,
  PluginSandboxOptions,
  PluginStats,
  SandboxLogger,
} from './sandbox.ts';
export { PluginSandbox } from './sandbox.ts';
export type { Clock, StateStore } from './state.ts';
export { MemoryStateStore, systemClock } from './state.ts';
