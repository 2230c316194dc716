import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { isOutpostError } from '../errors.ts';
import { SqliteAlertStore } from './alerts.ts';
import { storeClosed, storeOpenFailed, transactionEnded, unknownAgent } from './errors.ts';
import { SqliteFleetStore } from './fleet.ts';
import { migrate } from './migrations.ts';
import { RECORD_AGENT_IS, RECORD_COLUMNS, type RecordRow, recordKindIs, toRecord } from './record-row.ts';
import type {
  Heartbeat,
  IdempotencyEntry,
  IngestRecord,
  NewAgent,
  RecordPage,
  RecordQuery,
  Store,
  StoredAgent,
  StoreTransaction,
} from './types.ts';
import { page, Where } from './where.ts';

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. */
  file: string;
  logger?: Logger | undefined;
  busyTimeoutMs?: number | undefined;
}

interface AgentRow {
  id: string;
  hostname: string;
  labels: string;
  version: string;
  secret_sha256: string;
  registered_at: number;
  last_heartbeat_at: number | null;
  status: string | null;
}

interface IdempotencyRow {
  key: string;
  agent_id: string;
  content_sha256: string;
  response: string;
  created_at: number;
}

/** The page size of a database file this creates. */
const NEW_FILE_PAGE_SIZE = 16_384;

/** Opens (creating if needed) the SQLite store and applies pending migrations. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  let db: Database.Database;
  try {
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
    db = new Database(options.file);
  } catch (err) {
    throw storeOpenFailed(options.file, err);
  }
  try {
    // A new file only (before its first table, and before WAL mode, which fixes the page size):
    // 16 KB pages, a quarter as many page allocations, WAL frames and B-tree splits per stored record
    // as 4 KB pages (ingest.bench.ts: 0.2-0.4 CPU µs less per record). A new file has no auto-vacuum:
    // its pointer-map pages cost 0.15-0.3 µs per record, and retention's freed pages are reused by
    // new records instead (docs/alerts.md, "Bounded file"). An older file keeps what it was made with.
    db.exec(`PRAGMA page_size = ${NEW_FILE_PAGE_SIZE}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    // FULL: an acknowledged batch is deleted from the agent's queue, so the commit must survive power
    // loss too, not only a crash of this process.
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec(`PRAGMA journal_size_limit = ${64 * 1024 * 1024}`);
    const applied = migrate(db, options.file);
    // The statement journals of the record inserts (and the sub-journals of group commit's savepoints)
    // stay in memory: spilled to a temporary file, they cost a write() for every page an insert changed.
    // Set after the migrations, whose index builds over a large file may need to sort on disk.
    db.exec('PRAGMA temp_store = MEMORY');
    if (applied.length > 0) options.logger?.info({ file: options.file, applied }, 'store migrations applied');
  } catch (err) {
    db.close();
    throw isOutpostError(err) ? err : storeOpenFailed(options.file, err);
  }
  return new SqliteStore(db);
}

class SqliteStore implements Store {
  readonly fleet: SqliteFleetStore;
  readonly alerts: SqliteAlertStore;
  readonly #db: Database.Database;
  readonly #statements;
  readonly #queryCache = new Map<string, Database.Statement>();
  // better-sqlite3 is one synchronous connection, and a transaction callback may await: every
  // operation is queued so nothing runs inside another caller's open transaction.
  #tail: Promise<unknown> = Promise.resolve();
  readonly #pendingTx: PendingTransaction[] = [];
  #closing: Promise<void> | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
    const run = <T>(fn: () => T | Promise<T>) => this.#run(fn);
    this.fleet = new SqliteFleetStore(db, run);
    this.alerts = new SqliteAlertStore(db, run);
    const prepare = (sql: string) => db.prepare(sql);
    this.#statements = {
      insertAgent: prepare(
        `INSERT INTO agents (id, hostname, labels, version, secret_sha256, registered_at)
         VALUES (@id, @hostname, @labels, @version, @secretSha256, @registeredAt)`,
      ),
      getAgent: prepare('SELECT * FROM agents WHERE id = ?'),
      listAgents: prepare('SELECT * FROM agents ORDER BY registered_at, id'),
      heartbeat: prepare(
        'UPDATE agents SET last_heartbeat_at = @at, version = @version, status = @status WHERE id = @agentId',
      ),
      getIdempotency: prepare('SELECT * FROM idempotency WHERE key = ?'),
      putIdempotency: prepare(
        `INSERT INTO idempotency (key, agent_id, content_sha256, response, created_at)
         VALUES (@key, @agentId, @contentSha256, @response, @createdAt)`,
      ),
      agentKey: prepare('SELECT key FROM agents WHERE id = ?').pluck(),
      insertRecords: INSERT_ROWS.map((rows) => [rows, prepare(insertRecordsSql(rows))] as const),
    };
  }

  registerAgent(agent: NewAgent): Promise<void> {
    return this.#run(() => {
      this.#statements.insertAgent.run({ ...agent, labels: JSON.stringify(agent.labels) });
    });
  }

  getAgent(id: string): Promise<StoredAgent | undefined> {
    return this.#run(() => {
      const row = this.#statements.getAgent.get(id) as AgentRow | undefined;
      return row && toAgent(row);
    });
  }

  listAgents(): Promise<StoredAgent[]> {
    return this.#run(() => (this.#statements.listAgents.all() as AgentRow[]).map(toAgent));
  }

  recordHeartbeat(heartbeat: Heartbeat): Promise<boolean> {
    return this.#run(
      () =>
        this.#statements.heartbeat.run({ ...heartbeat, status: JSON.stringify(heartbeat.status) }).changes >
        0,
    );
  }

  queryRecords(query: RecordQuery): Promise<RecordPage> {
    return this.#run(() => {
      const where = new Where({ limit: query.limit + 1 })
        .add(RECORD_AGENT_IS, 'agentId', query.agentId)
        .add('name = @name', 'name', query.name)
        .add('ts >= @from', 'from', query.from)
        .add('ts < @to', 'to', query.to);
      if (query.kind !== undefined) where.and(recordKindIs(query.kind));
      if (query.after !== undefined) {
        where.and('(ts > @afterTs OR (ts = @afterTs AND id > @afterId))', {
          afterTs: query.after.ts,
          afterId: query.after.id,
        });
      }
      const sql = `SELECT ${RECORD_COLUMNS} FROM records ${where} ORDER BY ts, id LIMIT @limit`;
      let statement = this.#queryCache.get(sql);
      if (!statement) {
        statement = this.#db.prepare(sql);
        this.#queryCache.set(sql, statement);
      }
      const { items, more } = page(statement.all(where.params) as RecordRow[], query.limit, toRecord);
      return { records: items, more };
    });
  }

  /**
   * Group commit: transactions that queue up while one runs are run together, each inside its own
   * SAVEPOINT, and committed with one COMMIT (with synchronous=FULL, one fsync instead of one per
   * batch, which is what bounded ingest when agents keep several batches in flight). A callback that
   * throws rolls back to its savepoint only; every caller is answered after the COMMIT, so nothing
   * is acknowledged before it is durable.
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(storeClosed());
    return new Promise<T>((resolve, reject) => {
      this.#pendingTx.push({ fn, resolve, reject } as PendingTransaction);
      if (this.#pendingTx.length === 1) void this.#run(() => this.#commitGroup());
    });
  }

  async #commitGroup(): Promise<void> {
    const group = this.#pendingTx.splice(0);
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      // BEGIN IMMEDIATE: a deferred transaction that later writes can fail with SQLITE_BUSY
      // without waiting for busy_timeout.
      this.#db.exec('BEGIN IMMEDIATE');
      for (const item of group) {
        this.#db.exec('SAVEPOINT batch');
        const tx = new SqliteTransaction(this.#statements);
        try {
          outcomes.push({ ok: true, value: await item.fn(tx) });
          this.#db.exec('RELEASE batch');
        } catch (error) {
          // An error SQLite answers by ending the whole transaction takes the group down with it.
          if (!this.#db.inTransaction) throw error;
          this.#db.exec('ROLLBACK TO batch');
          this.#db.exec('RELEASE batch');
          outcomes.push({ ok: false, error });
        } finally {
          tx.end();
        }
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      for (const item of group) item.reject(error);
      return;
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#tail.then(() => {
      try {
        // Folds the WAL back into the main file so a stopped collector leaves one file to back up.
        this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } finally {
        this.#db.close();
      }
    });
    return this.#closing;
  }

  #run<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(storeClosed());
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => {});
    return result;
  }
}

class SqliteTransaction implements StoreTransaction {
  readonly #statements: TransactionStatements;
  #active = true;

  constructor(statements: TransactionStatements) {
    this.#statements = statements;
  }

  end(): void {
    this.#active = false;
  }

  async getIdempotency(key: string): Promise<IdempotencyEntry | undefined> {
    this.#assertActive();
    const row = this.#statements.getIdempotency.get(key) as IdempotencyRow | undefined;
    return (
      row && {
        key: row.key,
        agentId: row.agent_id,
        contentSha256: row.content_sha256,
        response: JSON.parse(row.response) as unknown,
        createdAt: row.created_at,
      }
    );
  }

  async putIdempotency(entry: IdempotencyEntry): Promise<void> {
    this.#assertActive();
    this.#statements.putIdempotency.run({ ...entry, response: JSON.stringify(entry.response) });
  }

  async insertRecords(
    agentId: string,
    records: readonly IngestRecord[],
    receivedAt: number,
  ): Promise<number> {
    this.#assertActive();
    const agentKey = this.#statements.agentKey.get(agentId) as number | undefined;
    if (agentKey === undefined) throw unknownAgent(agentId);
    // Many rows per statement: one call into SQLite instead of one per record, and each statement
    // journals the pages it changes once (a statement may abort partway), not once per row.
    let inserted = 0;
    let at = 0;
    const params: unknown[] = [];
    // The same for every row: bound once per statement. Each bound value costs better-sqlite3 about
    // 70 ns (strings more), so two of eleven per record was 0.1-0.15 µs.
    const shared = { agentKey, receivedAt };
    const bind = (record: IngestRecord) =>
      params.push(
        record.seq,
        record.kind,
        record.ts,
        record.name,
        record.value ?? null,
        record.unit ?? null,
        record.body ?? null,
        JSON.stringify(record.attrs),
        record.source,
      );
    for (const [rows, statement] of this.#statements.insertRecords) {
      for (; at + rows <= records.length; at += rows) {
        params.length = 0;
        for (let i = at; i < at + rows; i++) bind(records[i]!);
        inserted += statement.run(params, shared).changes;
      }
    }
    return inserted;
  }

  #assertActive(): void {
    if (!this.#active) throw transactionEnded();
  }
}

interface PendingTransaction {
  fn: (tx: StoreTransaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface TransactionStatements {
  agentKey: Database.Statement;
  getIdempotency: Database.Statement;
  putIdempotency: Database.Statement;
  /** By rows per statement, largest first; the last inserts one row. */
  insertRecords: ReadonlyArray<readonly [number, Database.Statement]>;
}

/** Rows per INSERT statement, largest first: a batch of any size takes at most 15 statements past its 500s. */
const INSERT_ROWS = [500, 100, 20, 5, 1];

function insertRecordsSql(rows: number): string {
  const values = Array(rows).fill('(@agentKey, ?, ?, ?, ?, ?, ?, ?, ?, ?, @receivedAt)').join(', ');
  return `INSERT INTO records (agent_key, seq, kind, ts, name, value, unit, body, attrs, source, received_at)
          VALUES ${values} ON CONFLICT (agent_key, seq) DO NOTHING`;
}

function toAgent(row: AgentRow): StoredAgent {
  return {
    id: row.id,
    hostname: row.hostname,
    labels: JSON.parse(row.labels) as Record<string, string>,
    version: row.version,
    secretSha256: row.secret_sha256,
    registeredAt: row.registered_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    status: row.status === null ? null : (JSON.parse(row.status) as Record<string, unknown>),
  };
}
