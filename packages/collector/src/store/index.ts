export type { AlertStore } from './alerts.ts';
export { schemaTooNew, storeClosed, storeOpenFailed } from './errors.ts';
export type { FleetStore } from './fleet.ts';
export type { Migration } from './migrations.ts';
export { MIGRATIONS } from './migrations.ts';
export type { SqliteStoreOptions } from './sqlite.ts';
export { openSqliteStore } from './sqlite.ts';
export type {
  Attrs,
  Heartbeat,
  IdempotencyEntry,
  IngestRecord,
  NewAgent,
  RecordKind,
  RecordPage,
  RecordPosition,
  RecordQuery,
  Store,
  StoredAgent,
  StoredRecord,
  StoreTransaction,
} from './types.ts';
export { RECORD_KINDS } from './types.ts';
