import type { AlertStore } from './alerts.ts';
import type { FleetStore } from './fleet.ts';

export const RECORD_KINDS = ['metric', 'log', 'event', 'alert'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export type Attrs = Record<string, string | number | boolean>;

export interface NewAgent {
  id: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  /** Hex SHA-256 of the agent secret; the secret itself is never stored. */
  secretSha256: string;
  registeredAt: number;
}

export interface StoredAgent extends NewAgent {
  lastHeartbeatAt: number | null;
  /** The last heartbeat body as sent. */
  status: Record<string, unknown> | null;
}

export interface Heartbeat {
  agentId: string;
  at: number;
  version: string;
  status: Record<string, unknown>;
}

/** One record as the ingest stage hands it to the store. */
export interface IngestRecord {
  seq: number;
  kind: RecordKind;
  ts: number;
  name: string;
  value?: number | undefined;
  unit?: string | undefined;
  body?: string | undefined;
  attrs: Attrs;
  source: string;
}

export interface StoredRecord {
  /** Store-assigned, increasing with insertion; the tie-breaker for paging. */
  id: number;
  agentId: string;
  seq: number;
  kind: RecordKind;
  ts: number;
  name: string;
  value: number | null;
  unit: string | null;
  body: string | null;
  attrs: Attrs;
  source: string;
  receivedAt: number;
}

export interface IdempotencyEntry {
  key: string;
  agentId: string;
  contentSha256: string;
  response: unknown;
  createdAt: number;
}

/** Where the previous page ended: records come ordered by (ts, id). */
export interface RecordPosition {
  ts: number;
  id: number;
}

export interface RecordQuery {
  agentId?: string | undefined;
  kind?: RecordKind | undefined;
  name?: string | undefined;
  /** Inclusive, unix ms. */
  from?: number | undefined;
  /** Exclusive, unix ms. */
  to?: number | undefined;
  limit: number;
  after?: RecordPosition | undefined;
}

export interface RecordPage {
  records: StoredRecord[];
  /** True when more records match after the last one returned. */
  more: boolean;
}

/** What a transaction callback may do; every call is part of the one transaction. */
export interface StoreTransaction {
  getIdempotency(key: string): Promise<IdempotencyEntry | undefined>;
  putIdempotency(entry: IdempotencyEntry): Promise<void>;
  /**
   * Inserts the records; one whose (agent, seq) is already stored is skipped, a second guard against
   * duplicates behind the idempotency key. Returns how many were inserted.
   */
  insertRecords(agentId: string, records: readonly IngestRecord[], receivedAt: number): Promise<number>;
}

/**
 * The collector's storage. Every method is async so a PostgreSQL implementation can sit behind the
 * same interface. After close() every method rejects with E_STORE_CLOSED.
 */
export interface Store {
  readonly fleet: FleetStore;
  readonly alerts: AlertStore;
  registerAgent(agent: NewAgent): Promise<void>;
  getAgent(id: string): Promise<StoredAgent | undefined>;
  listAgents(): Promise<StoredAgent[]>;
  /** Returns false when the agent is unknown. */
  recordHeartbeat(heartbeat: Heartbeat): Promise<boolean>;
  queryRecords(query: RecordQuery): Promise<RecordPage>;
  /**
   * Runs `fn` in one write transaction: committed when it resolves, rolled back when it rejects.
   * Inside `fn` use only `tx`; calling the store itself there would wait for the transaction to end.
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Waits for queued operations, then closes. Safe to call twice. */
  close(): Promise<void>;
}
