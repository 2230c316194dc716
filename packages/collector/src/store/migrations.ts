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
  {
    version: 2,
    name: 'fleet: enrollment tokens, agent revocation and labels, config versions, commands',
    sql: `
      ALTER TABLE agents ADD COLUMN revoked_at INTEGER;
      -- Set by an admin, merged over the labels the agent reports; JSON object or NULL.
      ALTER TABLE agents ADD COLUMN admin_labels TEXT;
      ALTER TABLE agents ADD COLUMN remote_address TEXT;

      CREATE TABLE enrollment_tokens (
        id TEXT PRIMARY KEY,
        secret_sha256 TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        max_uses INTEGER,
        uses INTEGER NOT NULL DEFAULT 0,
        revoked_at INTEGER
      ) STRICT;

      -- Every push is a new row; the newest row of a target is what it should run (yaml NULL: nothing).
      CREATE TABLE config_versions (
        version INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        yaml TEXT,
        sha256 TEXT,
        comment TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        rollback_of INTEGER
      ) STRICT;
      CREATE INDEX config_versions_target ON config_versions(target, version);

      CREATE TABLE agent_commands (
        id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        type TEXT NOT NULL,
        args TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        delivered_at INTEGER,
        deliveries INTEGER NOT NULL DEFAULT 0,
        finished_at INTEGER,
        result TEXT
      ) STRICT;
      CREATE INDEX agent_commands_agent ON agent_commands(agent_id, created_at);
    `,
  },
  {
    version: 3,
    name: 'alerting, notification outbox, forwarding cursors, rollups',
    sql: `
      CREATE TABLE alert_rules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;

      -- One row per condition (rule + agent, or an edge alert's agent + name): one condition is one alert.
      CREATE TABLE alerts (
        key TEXT PRIMARY KEY,
        rule_id TEXT,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        state TEXT NOT NULL,
        value REAL,
        since INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        source TEXT NOT NULL
      ) STRICT;
      CREATE INDEX alerts_state ON alerts(state);

      CREATE TABLE alert_transitions (
        id INTEGER PRIMARY KEY,
        alert_key TEXT NOT NULL,
        rule_id TEXT,
        name TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        at INTEGER NOT NULL,
        value REAL,
        labels TEXT NOT NULL,
        source TEXT NOT NULL
      ) STRICT;
      CREATE INDEX alert_transitions_at ON alert_transitions(at, id);
      CREATE INDEX alert_transitions_key ON alert_transitions(alert_key, id);

      CREATE TABLE notify_channels (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      -- dedup_key makes enqueueing idempotent: one row per channel per transition (or repeat slot).
      CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY,
        channel_id TEXT NOT NULL,
        alert_key TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER,
        failed_at INTEGER,
        last_error TEXT,
        UNIQUE (channel_id, dedup_key)
      ) STRICT;
      CREATE INDEX notify_outbox_due ON notify_outbox(delivered_at, failed_at, next_attempt_at);
      CREATE INDEX notify_outbox_alert ON notify_outbox(channel_id, alert_key, created_at);

      CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        comment TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;

      -- Last records.id handed over for good (forwarding sinks, the edge-alert reader).
      CREATE TABLE sink_cursors (
        sink TEXT PRIMARY KEY,
        last_id INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE record_rollups (
        agent_id TEXT NOT NULL,
        name TEXT NOT NULL,
        hour INTEGER NOT NULL,
        count INTEGER NOT NULL,
        sum REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        PRIMARY KEY (agent_id, name, hour)
      ) STRICT;
      CREATE INDEX record_rollups_hour ON record_rollups(hour);
    `,
  },
  {
    version: 4,
    name: 'fleet: plugin store and plugin assignments',
    sql: `
      CREATE TABLE plugin_packages (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        package_sha256 TEXT NOT NULL,
        manifest TEXT NOT NULL,
        size INTEGER NOT NULL,
        uploaded_at INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (name, version)
      ) STRICT;

      -- What a target should run of one plugin; version NULL: the plugin is to be removed.
      CREATE TABLE plugin_assignments (
        target TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT,
        config TEXT,
        enabled INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (target, name)
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'rollups per series (attrs), with unit and source',
    sql: `
      -- Version 3 merged every series of a metric (all mountpoints, all CPUs) into one row per hour,
      -- which charts cannot use: those rows are rebuilt from the raw records still stored.
      DROP TABLE record_rollups;
      CREATE TABLE record_rollups (
        id INTEGER PRIMARY KEY,
        agent_id TEXT NOT NULL,
        name TEXT NOT NULL,
        attrs TEXT NOT NULL,
        hour INTEGER NOT NULL,
        unit TEXT,
        source TEXT NOT NULL,
        count INTEGER NOT NULL,
        sum REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        UNIQUE (agent_id, name, hour, attrs)
      ) STRICT;
      CREATE INDEX record_rollups_hour ON record_rollups(hour, id);
      CREATE INDEX record_rollups_name_hour ON record_rollups(name, hour, id);
      DELETE FROM sink_cursors WHERE sink = 'retention:rollup';
    `,
  },
  {
    version: 6,
    name: 'records keep the agent as an integer key',
    sql: `
      -- The 28-character agent id, repeated in every record and in three of its indexes, cost about a
      -- fifth of each insert. An explicit column rather than the rowid: VACUUM may renumber the rowids
      -- of a table without an INTEGER PRIMARY KEY.
      ALTER TABLE agents ADD COLUMN key INTEGER;
      UPDATE agents SET key = rowid;
      CREATE UNIQUE INDEX agents_key ON agents(key);
      -- Agents are never deleted, so MAX + 1 never hands out a key twice.
      CREATE TRIGGER agents_assign_key AFTER INSERT ON agents WHEN NEW.key IS NULL
      BEGIN
        UPDATE agents SET key = (SELECT COALESCE(MAX(key), 0) + 1 FROM agents) WHERE id = NEW.id;
      END;

      CREATE TABLE records_by_key (
        id INTEGER PRIMARY KEY,
        agent_key INTEGER NOT NULL REFERENCES agents(key),
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
        UNIQUE (agent_key, seq)
      ) STRICT;
      -- Ids are kept: forwarding and alerting cursors point at them.
      INSERT INTO records_by_key (id, agent_key, seq, kind, ts, name, value, unit, body, attrs, source, received_at)
        SELECT r.id, a.key, r.seq, r.kind, r.ts, r.name, r.value, r.unit, r.body, r.attrs, r.source, r.received_at
        FROM records r JOIN agents a ON a.id = r.agent_id ORDER BY r.id;
      DROP TABLE records;
      ALTER TABLE records_by_key RENAME TO records;
      -- By name only for metrics, the series charts and alert rules read by name: logs and events,
      -- most of the volume, are read by time or agent, and two fewer index entries per record took
      -- about a third off an insert's SQLite cost. A query must say kind = 'metric' literally to use
      -- them.
      CREATE INDEX records_agent_name_ts ON records(agent_key, name, ts, id) WHERE kind = 'metric';
      CREATE INDEX records_name_ts ON records(name, ts, id) WHERE kind = 'metric';
      CREATE INDEX records_agent_ts ON records(agent_key, ts, id);
      CREATE INDEX records_ts ON records(ts, id);
      -- The edge-alert reader looks for alert records after its cursor on every evaluation; without
      -- this it read every record ingested since.
      CREATE INDEX records_alert_id ON records(id) WHERE kind = 'alert';
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
