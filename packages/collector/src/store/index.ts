export type {
  AlertInstance,
  AlertSource,
  AlertState,
  AlertStore,
  AlertTransaction,
  AlertTransition,
  MetricAggregate,
  NewTransition,
  OutboxItem,
  RecordCount,
  Rollup,
  RollupPage,
  RollupPosition,
  RollupQuery,
  Silence,
  StoredChannel,
  StoredRule,
  TransitionQuery,
} from './alerts.ts';
export { schemaTooNew, storeClosed, storeOpenFailed } from './errors.ts';
export type {
  AgentFleetState,
  CommandResult,
  CommandStatus,
  ConfigVersion,
  EnrollmentToken,
  FinishOutcome,
  FleetStore,
  NewCommand,
  NewConfigVersion,
  NewEnrollmentToken,
  PluginAssignment,
  PluginPackageInfo,
  PutPackageOutcome,
  RemovePackageOutcome,
  ReportedProcess,
  ReregisterOutcome,
  Reregistration,
  StoredCommand,
  TokenUse,
} from './fleet.ts';
export type { Migration } from './migrations.ts';
export { MIGRATIONS } from './migrations.ts';
export { recordView } from './record-view.ts';
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
