export { STATUS_BY_CODE } from './api/index.ts';
export type { CollectorTokens } from './auth/index.ts';
export type { Collector, CreateCollectorOptions } from './collector.ts';
export { createCollector } from './collector.ts';
export type {
  CollectorConfig,
  CollectorConfigFlags,
  CollectorLimits,
  ConfigProblem,
  ListenAddress,
  LoadCollectorConfigOptions,
  LogLevel,
} from './config/index.ts';
export { loadCollectorConfig } from './config/index.ts';
export { isOutpostError, OutpostError } from './errors.ts';
export type {
  RecordKind,
  RecordPage,
  RecordQuery,
  Store,
  StoredAgent,
  StoredRecord,
  StoreTransaction,
} from './store/index.ts';
export { openSqliteStore } from './store/index.ts';
