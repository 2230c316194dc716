import type Database from 'better-sqlite3';
import { schemaTooNew } from './errors.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Append only: a shipped migration never changes, a new one gets the next version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'agents, idempotency, records',
    sql: `
      CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        labels TEXT NOT NULL,
        version TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        registered_at INTEGER NOT NULL,
        last_heartbeat_at INTEGER,
        status TEXT
      ) STRICT;

      CREATE TABLE idempotency (
        key TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        content_sha256 TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX idempotency_created_at ON idempotency(created_at);

      CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ts REAL NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        unit TEXT,
        body TEXT,
        attrs TEXT NOT NULL,
        source TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (agent_id, seq)
      ) STRICT;
      -- Read-back pages are ordered by (ts, id); one index per common filter keeps each page a range scan.
      CREATE INDEX records_agent_name_ts ON records(agent_id, name, ts, id);
      CREATE INDEX records_agent_ts ON records(agent_id, ts, id);
      CREATE INDEX records_name_ts ON records(name, ts, id);
      CREATE INDEX records_ts ON records(ts, id);
    `,
  },
];

/** Applies the pending migrations in one transaction; returns the versions applied. */
export function migrate(
  db: Database.Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const known = migrations.at(-1)?.version ?? 0;
  const applied: number[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as {
      version: number | null;
    };
    const current = row.version ?? 0;
    if (current > known) throw schemaTooNew(file, current, known);
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      applied.push(migration.version);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
  return applied;
}
