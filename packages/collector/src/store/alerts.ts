import type Database from 'better-sqlite3';
import { transactionEnded } from './errors.ts';
import {
  AGENT_ID_OF_ROW,
  RECORD_AGENT_IS,
  RECORD_COLUMNS,
  type RecordRow,
  recordKindIs,
  toRecord,
} from './record-row.ts';
import type { SerializedRun } from './section.ts';
import { StatementCache } from './statements.ts';
import type { Attrs, RecordKind, StoredRecord } from './types.ts';
import { page, Where } from './where.ts';

export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';
export type AlertSource = 'rule' | 'edge';

/** A rule as stored: `spec` is the validated rule body (see alerts/rules.ts), kept as JSON. */
export interface StoredRule {
  id: string;
  name: string;
  spec: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** The current state of one condition: a rule for one agent, or one edge alert of one agent. */
export interface AlertInstance {
  key: string;
  ruleId: string | null;
  name: string;
  labels: Record<string, string>;
  state: AlertState;
  value: number | null;
  /** When the current state began. */
  since: number;
  updatedAt: number;
  source: AlertSource;
}

export interface NewTransition {
  alertKey: string;
  ruleId: string | null;
  name: string;
  from: AlertState;
  to: AlertState;
  at: number;
  value: number | null;
  labels: Record<string, string>;
  source: AlertSource;
}

export interface AlertTransition extends NewTransition {
  id: number;
}

export interface TransitionQuery {
  ruleId?: string | undefined;
  alertKey?: string | undefined;
  name?: string | undefined;
  /** The state entered. */
  to?: AlertState | undefined;
  from?: number | undefined;
  until?: number | undefined;
  /** Transitions with a smaller id than this (pages go newest first). */
  before?: number | undefined;
  limit: number;
}

export interface StoredChannel {
  id: string;
  spec: Record<string, unknown>;
  createdAt: number;
}

export interface Silence {
  id: string;
  matchers: Array<{ name: string; value: string; op: '=' | '!=' | '=~' }>;
  comment: string;
  createdAt: number;
  expiresAt: number;
}

export interface NewNotification {
  channelId: string;
  alertKey: string;
  /** One row per channel and key: enqueueing the same transition twice stores it once. */
  dedupKey: string;
  payload: unknown;
  at: number;
}

export interface OutboxItem {
  id: number;
  channelId: string;
  alertKey: string;
  dedupKey: string;
  payload: unknown;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  deliveredAt: number | null;
  failedAt: number | null;
  lastError: string | null;
}

export interface MetricAggregate {
  agentId: string;
  count: number;
  avg: number;
  min: number;
  max: number;
  /** The value with the latest ts in the window. */
  last: number;
}

export interface RecordCount {
  agentId: string;
  count: number;
}

/** What an alert transaction may do; every call is part of the one transaction. */
export interface AlertTransaction {
  getAlert(key: string): Promise<AlertInstance | undefined>;
  putAlert(alert: AlertInstance): Promise<void>;
  addTransition(transition: NewTransition): Promise<number>;
  /** Returns false when the same (channel, dedupKey) was enqueued before. */
  enqueueNotification(notification: NewNotification): Promise<boolean>;
  lastNotificationAt(channelId: string, alertKey: string): Promise<number | null>;
  getCursor(name: string): Promise<number>;
  setCursor(name: string, lastId: number, at: number): Promise<void>;
}

/**
 * Alerting state: rules, alert instances and their transitions, notification channels, silences,
 * the notification outbox, record cursors (forwarding, edge alerts) and retention rollups.
 */
export interface AlertStore {
  listRules(): Promise<StoredRule[]>;
  getRule(id: string): Promise<StoredRule | undefined>;
  putRule(rule: StoredRule): Promise<void>;
  /** Deletes the rule and its current alerts (history stays). Returns false when unknown. */
  deleteRule(id: string): Promise<boolean>;

  listAlerts(filter?: {
    state?: AlertState | undefined;
    ruleId?: string | undefined;
  }): Promise<AlertInstance[]>;
  queryTransitions(query: TransitionQuery): Promise<{ transitions: AlertTransition[]; more: boolean }>;

  listChannels(): Promise<StoredChannel[]>;
  putChannel(channel: StoredChannel): Promise<void>;
  deleteChannel(id: string): Promise<boolean>;

  listSilences(): Promise<Silence[]>;
  putSilence(silence: Silence): Promise<void>;
  deleteSilence(id: string): Promise<boolean>;

  dueNotifications(now: number, limit: number): Promise<OutboxItem[]>;
  listNotifications(limit: number): Promise<OutboxItem[]>;
  markDelivered(id: number, at: number): Promise<void>;
  markRetry(id: number, nextAttemptAt: number, error: string): Promise<void>;
  markFailed(id: number, at: number, error: string): Promise<void>;

  getCursor(name: string): Promise<number>;
  setCursor(name: string, lastId: number, at: number): Promise<void>;
  /** Records with id > afterId in id order; `kind` narrows. */
  readRecordsAfter(afterId: number, limit: number, kind?: RecordKind): Promise<StoredRecord[]>;
  maxRecordId(): Promise<number>;

  metricAggregates(name: string, from: number, to: number): Promise<MetricAggregate[]>;
  /** Records whose name (log source) matches and whose body matches `pattern` (a JS regex). */
  logPatternCounts(
    pattern: string,
    name: string | undefined,
    from: number,
    to: number,
  ): Promise<RecordCount[]>;
  /** Metric records per agent in the window (agents without any are absent). */
  metricCounts(name: string, from: number, to: number): Promise<RecordCount[]>;

  /** Folds up to `limit` not yet rolled-up metric records into hourly rollups; returns how many. */
  rollupNext(limit: number): Promise<number>;
  /**
   * Deletes up to `limit` records older than `before` with id <= `upToId` that are already rolled
   * up; returns how many.
   */
  deleteRecordsBefore(before: number, upToId: number, limit: number): Promise<number>;
  deleteRollupsBefore(before: number, limit: number): Promise<number>;
  /** Returns free pages to the file system (incremental auto-vacuum); returns pages still free. */
  reclaimSpace(pages: number): Promise<number>;
  /** Hourly rollups whose hour overlaps [from, to), ordered by (hour, id), paged like records. */
  queryRollups(query: RollupQuery): Promise<RollupPage>;
  /** The ts of the oldest raw metric record still stored that matches, or null when none is. */
  oldestMetricTs(filter: { agentId?: string | undefined; name?: string | undefined }): Promise<number | null>;

  transaction<T>(fn: (tx: AlertTransaction) => Promise<T>): Promise<T>;
}

/** One series (agent, metric, attrs) over one hour: [hour, hour + 1h). */
export interface Rollup {
  id: number;
  agentId: string;
  name: string;
  attrs: Attrs;
  unit: string | null;
  source: string;
  hour: number;
  count: number;
  avg: number;
  min: number;
  max: number;
}

/** Where the previous page of rollups ended: they come ordered by (hour, id). */
export interface RollupPosition {
  hour: number;
  id: number;
}

export interface RollupQuery {
  agentId?: string | undefined;
  name?: string | undefined;
  /** Rollups whose hour ends after this (unix ms). */
  from?: number | undefined;
  /** Rollups whose hour starts before this (unix ms, exclusive). */
  to?: number | undefined;
  limit: number;
  after?: RollupPosition | undefined;
}

export interface RollupPage {
  rollups: Rollup[];
  more: boolean;
}

const ROLLUP_CURSOR = 'retention:rollup';
const HOUR_MS = 3_600_000;

interface AlertRow {
  key: string;
  rule_id: string | null;
  name: string;
  labels: string;
  state: string;
  value: number | null;
  since: number;
  updated_at: number;
  source: string;
}

interface TransitionRow {
  id: number;
  alert_key: string;
  rule_id: string | null;
  name: string;
  from_state: string;
  to_state: string;
  at: number;
  value: number | null;
  labels: string;
  source: string;
}

interface OutboxRow {
  id: number;
  channel_id: string;
  alert_key: string;
  dedup_key: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  delivered_at: number | null;
  failed_at: number | null;
  last_error: string | null;
}

export class SqliteAlertStore implements AlertStore {
  readonly #db: Database.Database;
  readonly #sql: StatementCache;
  readonly #run: SerializedRun;
  readonly #patterns = new Map<string, RegExp>();

  constructor(db: Database.Database, run: SerializedRun) {
    this.#db = db;
    this.#sql = new StatementCache(db);
    this.#run = run;
    // SQLite has no regex of its own; PostgreSQL would use `~`.
    db.function('outpost_regexp', { deterministic: true }, (pattern, text) => {
      if (typeof pattern !== 'string' || typeof text !== 'string') return 0;
      let re = this.#patterns.get(pattern);
      if (!re) {
        re = new RegExp(pattern);
        if (this.#patterns.size > 256) this.#patterns.clear();
        this.#patterns.set(pattern, re);
      }
      return re.test(text) ? 1 : 0;
    });
  }

  listRules(): Promise<StoredRule[]> {
    return this.#run(() =>
      (this.#sql.get('SELECT * FROM alert_rules ORDER BY created_at, id').all() as RuleRow[]).map(toRule),
    );
  }

  getRule(id: string): Promise<StoredRule | undefined> {
    return this.#run(() => {
      const row = this.#sql.get('SELECT * FROM alert_rules WHERE id = ?').get(id) as RuleRow | undefined;
      return row && toRule(row);
    });
  }

  putRule(rule: StoredRule): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          `INSERT INTO alert_rules (id, name, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, spec = excluded.spec, updated_at = excluded.updated_at`,
        )
        .run(rule.id, rule.name, JSON.stringify(rule.spec), rule.createdAt, rule.updatedAt);
    });
  }

  deleteRule(id: string): Promise<boolean> {
    return this.#run(() =>
      this.#db.transaction(() => {
        this.#sql.get('DELETE FROM alerts WHERE rule_id = ?').run(id);
        return this.#sql.get('DELETE FROM alert_rules WHERE id = ?').run(id).changes > 0;
      })(),
    );
  }

  listAlerts(filter: { state?: AlertState; ruleId?: string } = {}): Promise<AlertInstance[]> {
    return this.#run(() => {
      const where = new Where()
        .add('state = @state', 'state', filter.state)
        .add('rule_id = @ruleId', 'ruleId', filter.ruleId);
      const sql = `SELECT * FROM alerts ${where} ORDER BY since DESC, key`;
      return (this.#sql.get(sql).all(where.params) as AlertRow[]).map(toAlert);
    });
  }

  queryTransitions(query: TransitionQuery): Promise<{ transitions: AlertTransition[]; more: boolean }> {
    return this.#run(() => {
      const where = new Where({ limit: query.limit + 1 })
        .add('rule_id = @ruleId', 'ruleId', query.ruleId)
        .add('alert_key = @alertKey', 'alertKey', query.alertKey)
        .add('name = @name', 'name', query.name)
        .add('to_state = @to', 'to', query.to)
        .add('at >= @from', 'from', query.from)
        .add('at < @until', 'until', query.until)
        .add('id < @before', 'before', query.before);
      const sql = `SELECT * FROM alert_transitions ${where} ORDER BY id DESC LIMIT @limit`;
      const rows = this.#sql.get(sql).all(where.params) as TransitionRow[];
      const { items, more } = page(rows, query.limit, toTransition);
      return { transitions: items, more };
    });
  }

  listChannels(): Promise<StoredChannel[]> {
    return this.#run(() =>
      (
        this.#sql.get('SELECT * FROM notify_channels ORDER BY created_at, id').all() as Array<{
          id: string;
          spec: string;
          created_at: number;
        }>
      ).map((row) => ({ id: row.id, spec: JSON.parse(row.spec), createdAt: row.created_at })),
    );
  }

  putChannel(channel: StoredChannel): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          `INSERT INTO notify_channels (id, spec, created_at) VALUES (?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET spec = excluded.spec`,
        )
        .run(channel.id, JSON.stringify(channel.spec), channel.createdAt);
    });
  }

  deleteChannel(id: string): Promise<boolean> {
    return this.#run(() => this.#sql.get('DELETE FROM notify_channels WHERE id = ?').run(id).changes > 0);
  }

  listSilences(): Promise<Silence[]> {
    return this.#run(() =>
      (
        this.#sql.get('SELECT * FROM silences ORDER BY created_at, id').all() as Array<{
          id: string;
          matchers: string;
          comment: string;
          created_at: number;
          expires_at: number;
        }>
      ).map((row) => ({
        id: row.id,
        matchers: JSON.parse(row.matchers),
        comment: row.comment,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
      })),
    );
  }

  putSilence(silence: Silence): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          `INSERT INTO silences (id, matchers, comment, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, comment = excluded.comment,
             expires_at = excluded.expires_at`,
        )
        .run(
          silence.id,
          JSON.stringify(silence.matchers),
          silence.comment,
          silence.createdAt,
          silence.expiresAt,
        );
    });
  }

  deleteSilence(id: string): Promise<boolean> {
    return this.#run(() => this.#sql.get('DELETE FROM silences WHERE id = ?').run(id).changes > 0);
  }

  dueNotifications(now: number, limit: number): Promise<OutboxItem[]> {
    return this.#run(() =>
      (
        this.#sql
          .get(
            `SELECT * FROM notify_outbox WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?
             ORDER BY next_attempt_at, id LIMIT ?`,
          )
          .all(now, limit) as OutboxRow[]
      ).map(toOutbox),
    );
  }

  listNotifications(limit: number): Promise<OutboxItem[]> {
    return this.#run(() =>
      (this.#sql.get('SELECT * FROM notify_outbox ORDER BY id DESC LIMIT ?').all(limit) as OutboxRow[]).map(
        toOutbox,
      ),
    );
  }

  markDelivered(id: number, at: number): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          'UPDATE notify_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?',
        )
        .run(at, id);
    });
  }

  markRetry(id: number, nextAttemptAt: number, error: string): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          'UPDATE notify_outbox SET next_attempt_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?',
        )
        .run(nextAttemptAt, error, id);
    });
  }

  markFailed(id: number, at: number, error: string): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get('UPDATE notify_outbox SET failed_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?')
        .run(at, error, id);
    });
  }

  getCursor(name: string): Promise<number> {
    return this.#run(() => readCursor(this.#sql, name));
  }

  setCursor(name: string, lastId: number, at: number): Promise<void> {
    return this.#run(() => writeCursor(this.#sql, name, lastId, at));
  }

  readRecordsAfter(afterId: number, limit: number, kind?: RecordKind): Promise<StoredRecord[]> {
    return this.#run(() => {
      const rows = (
        kind === undefined
          ? this.#sql
              .get(`SELECT ${RECORD_COLUMNS} FROM records WHERE id > ? ORDER BY id LIMIT ?`)
              .all(afterId, limit)
          : this.#sql
              .get(
                `SELECT ${RECORD_COLUMNS} FROM records WHERE id > ? AND ${recordKindIs(kind)} ORDER BY id LIMIT ?`,
              )
              .all(afterId, limit)
      ) as RecordRow[];
      return rows.map(toRecord);
    });
  }

  maxRecordId(): Promise<number> {
    return this.#run(
      () => (this.#sql.get('SELECT MAX(id) AS id FROM records').get() as { id: number | null }).id ?? 0,
    );
  }

  metricAggregates(name: string, from: number, to: number): Promise<MetricAggregate[]> {
    return this.#run(
      () =>
        this.#sql
          .get(
            `SELECT (SELECT id FROM agents WHERE key = r.agent_key) AS agentId, COUNT(*) AS count, AVG(value) AS avg,
               MIN(value) AS min, MAX(value) AS max,
               (SELECT r2.value FROM records r2 WHERE r2.agent_key = r.agent_key AND r2.name = @name AND r2.kind = 'metric'
                  AND r2.ts >= @from AND r2.ts <= @to ORDER BY r2.ts DESC, r2.id DESC LIMIT 1) AS last
             FROM records r WHERE name = @name AND kind = 'metric' AND ts >= @from AND ts <= @to AND value IS NOT NULL
             GROUP BY r.agent_key`,
          )
          .all({ name, from, to }) as MetricAggregate[],
    );
  }

  logPatternCounts(
    pattern: string,
    name: string | undefined,
    from: number,
    to: number,
  ): Promise<RecordCount[]> {
    return this.#run(
      () =>
        this.#sql
          .get(
            `SELECT ${AGENT_ID_OF_ROW} AS agentId, COUNT(*) AS count FROM records
             WHERE kind = 'log' AND ts >= @from AND ts <= @to ${name === undefined ? '' : 'AND name = @name'}
               AND outpost_regexp(@pattern, body)
             GROUP BY agent_key`,
          )
          .all({ pattern, from, to, ...(name === undefined ? {} : { name }) }) as RecordCount[],
    );
  }

  metricCounts(name: string, from: number, to: number): Promise<RecordCount[]> {
    return this.#run(
      () =>
        this.#sql
          .get(
            `SELECT ${AGENT_ID_OF_ROW} AS agentId, COUNT(*) AS count FROM records
             WHERE name = ? AND kind = 'metric' AND ts >= ? AND ts <= ? GROUP BY agent_key`,
          )
          .all(name, from, to) as RecordCount[],
    );
  }

  rollupNext(limit: number): Promise<number> {
    return this.#run(() =>
      this.#db.transaction(() => {
        const after = readCursor(this.#sql, ROLLUP_CURSOR);
        const last = this.#sql
          .get(
            'SELECT MAX(id) AS id, COUNT(*) AS n FROM (SELECT id FROM records WHERE id > ? ORDER BY id LIMIT ?)',
          )
          .get(after, limit) as { id: number | null; n: number };
        if (last.id === null) return 0;
        this.#sql
          .get(
            // One row per series: attrs as stored (an agent writes a series' attrs in one key order).
            `INSERT INTO record_rollups (agent_id, name, attrs, hour, unit, source, count, sum, min, max)
             SELECT ${AGENT_ID_OF_ROW}, name, attrs, CAST(ts / ${HOUR_MS} AS INTEGER) * ${HOUR_MS}, MAX(unit), MAX(source),
               COUNT(*), SUM(value), MIN(value), MAX(value)
             FROM records WHERE id > ? AND id <= ? AND kind = 'metric' AND value IS NOT NULL
             GROUP BY agent_key, name, attrs, CAST(ts / ${HOUR_MS} AS INTEGER)
             ON CONFLICT (agent_id, name, hour, attrs) DO UPDATE SET count = count + excluded.count,
               sum = sum + excluded.sum, min = MIN(min, excluded.min), max = MAX(max, excluded.max),
               unit = COALESCE(excluded.unit, unit)`,
          )
          .run(after, last.id);
        writeCursor(this.#sql, ROLLUP_CURSOR, last.id, Date.now());
        return last.n;
      })(),
    );
  }

  deleteRecordsBefore(before: number, upToId: number, limit: number): Promise<number> {
    return this.#run(() => {
      // Never the newest record: SQLite gives the next record MAX(id) + 1, so deleting the newest
      // would hand its id out again, behind every cursor that already passed it.
      const newest =
        (this.#sql.get('SELECT MAX(id) AS id FROM records').get() as { id: number | null }).id ?? 0;
      const rolledUpTo = Math.min(upToId, readCursor(this.#sql, ROLLUP_CURSOR), newest - 1);
      return this.#sql
        .get(
          'DELETE FROM records WHERE id IN (SELECT id FROM records WHERE ts < ? AND id <= ? ORDER BY ts, id LIMIT ?)',
        )
        .run(before, rolledUpTo, limit).changes;
    });
  }

  deleteRollupsBefore(before: number, limit: number): Promise<number> {
    return this.#run(
      () =>
        this.#sql
          .get(
            `DELETE FROM record_rollups WHERE rowid IN (SELECT rowid FROM record_rollups WHERE hour < ? LIMIT ?)`,
          )
          .run(before, limit).changes,
    );
  }

  reclaimSpace(pages: number): Promise<number> {
    return this.#run(() => {
      this.#db.pragma(`incremental_vacuum(${Math.max(1, Math.trunc(pages))})`);
      return this.#db.pragma('freelist_count', { simple: true }) as number;
    });
  }

  queryRollups(query: RollupQuery): Promise<RollupPage> {
    return this.#run(() => {
      const where = new Where({ limit: query.limit + 1 })
        .add('agent_id = @agentId', 'agentId', query.agentId)
        .add('name = @name', 'name', query.name)
        .add(`hour > @from - ${HOUR_MS}`, 'from', query.from)
        .add('hour < @to', 'to', query.to);
      if (query.after !== undefined) {
        where.and('(hour > @afterHour OR (hour = @afterHour AND id > @afterId))', {
          afterHour: query.after.hour,
          afterId: query.after.id,
        });
      }
      const sql = `SELECT * FROM record_rollups ${where} ORDER BY hour, id LIMIT @limit`;
      const rows = this.#sql.get(sql).all(where.params) as RollupRow[];
      const { items, more } = page(rows, query.limit, toRollup);
      return { rollups: items, more };
    });
  }

  oldestMetricTs(filter: { agentId?: string; name?: string }): Promise<number | null> {
    return this.#run(() => {
      const where = new Where()
        .and("kind = 'metric'")
        .add(RECORD_AGENT_IS, 'agentId', filter.agentId)
        .add('name = @name', 'name', filter.name);
      const row = this.#sql.get(`SELECT MIN(ts) AS ts FROM records ${where}`).get(where.params) as {
        ts: number | null;
      };
      return row.ts;
    });
  }

  transaction<T>(fn: (tx: AlertTransaction) => Promise<T>): Promise<T> {
    return this.#run(async () => {
      // BEGIN IMMEDIATE: a deferred transaction that later writes can fail with SQLITE_BUSY without waiting.
      this.#db.exec('BEGIN IMMEDIATE');
      const tx = new SqliteAlertTransaction(this.#sql);
      try {
        const result = await fn(tx);
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw err;
      } finally {
        tx.end();
      }
    });
  }
}

class SqliteAlertTransaction implements AlertTransaction {
  readonly #sql: StatementCache;
  #active = true;

  constructor(sql: StatementCache) {
    this.#sql = sql;
  }

  end(): void {
    this.#active = false;
  }

  async getAlert(key: string): Promise<AlertInstance | undefined> {
    this.#assertActive();
    const row = this.#sql.get('SELECT * FROM alerts WHERE key = ?').get(key) as AlertRow | undefined;
    return row && toAlert(row);
  }

  async putAlert(alert: AlertInstance): Promise<void> {
    this.#assertActive();
    this.#sql
      .get(
        `INSERT INTO alerts (key, rule_id, name, labels, state, value, since, updated_at, source)
         VALUES (@key, @ruleId, @name, @labels, @state, @value, @since, @updatedAt, @source)
         ON CONFLICT (key) DO UPDATE SET rule_id = excluded.rule_id, name = excluded.name, labels = excluded.labels,
           state = excluded.state, value = excluded.value, since = excluded.since, updated_at = excluded.updated_at,
           source = excluded.source`,
      )
      .run({ ...alert, labels: JSON.stringify(alert.labels) });
  }

  async addTransition(t: NewTransition): Promise<number> {
    this.#assertActive();
    return Number(
      this.#sql
        .get(
          `INSERT INTO alert_transitions (alert_key, rule_id, name, from_state, to_state, at, value, labels, source)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(t.alertKey, t.ruleId, t.name, t.from, t.to, t.at, t.value, JSON.stringify(t.labels), t.source)
        .lastInsertRowid,
    );
  }

  async enqueueNotification(n: NewNotification): Promise<boolean> {
    this.#assertActive();
    return (
      this.#sql
        .get(
          `INSERT INTO notify_outbox (channel_id, alert_key, dedup_key, payload, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, dedup_key) DO NOTHING`,
        )
        .run(n.channelId, n.alertKey, n.dedupKey, JSON.stringify(n.payload), n.at, n.at).changes > 0
    );
  }

  async lastNotificationAt(channelId: string, alertKey: string): Promise<number | null> {
    this.#assertActive();
    return (
      this.#sql
        .get('SELECT MAX(created_at) AS at FROM notify_outbox WHERE channel_id = ? AND alert_key = ?')
        .get(channelId, alertKey) as { at: number | null }
    ).at;
  }

  async getCursor(name: string): Promise<number> {
    this.#assertActive();
    return readCursor(this.#sql, name);
  }

  async setCursor(name: string, lastId: number, at: number): Promise<void> {
    this.#assertActive();
    writeCursor(this.#sql, name, lastId, at);
  }

  #assertActive(): void {
    if (!this.#active) throw transactionEnded();
  }
}

interface RollupRow {
  id: number;
  agent_id: string;
  name: string;
  attrs: string;
  hour: number;
  unit: string | null;
  source: string;
  count: number;
  sum: number;
  min: number;
  max: number;
}

function toRollup(row: RollupRow): Rollup {
  return {
    id: row.id,
    agentId: row.agent_id,
    name: row.name,
    attrs: JSON.parse(row.attrs) as Attrs,
    unit: row.unit,
    source: row.source,
    hour: row.hour,
    count: row.count,
    avg: row.sum / row.count,
    min: row.min,
    max: row.max,
  };
}

interface RuleRow {
  id: string;
  name: string;
  spec: string;
  created_at: number;
  updated_at: number;
}

function readCursor(sql: StatementCache, name: string): number {
  const row = sql.get('SELECT last_id FROM sink_cursors WHERE sink = ?').get(name) as
    | { last_id: number }
    | undefined;
  return row?.last_id ?? 0;
}

function writeCursor(sql: StatementCache, name: string, lastId: number, at: number): void {
  sql
    .get(
      `INSERT INTO sink_cursors (sink, last_id, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (sink) DO UPDATE SET last_id = MAX(last_id, excluded.last_id), updated_at = excluded.updated_at`,
    )
    .run(name, lastId, at);
}

function toRule(row: RuleRow): StoredRule {
  return {
    id: row.id,
    name: row.name,
    spec: JSON.parse(row.spec) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toAlert(row: AlertRow): AlertInstance {
  return {
    key: row.key,
    ruleId: row.rule_id,
    name: row.name,
    labels: JSON.parse(row.labels) as Record<string, string>,
    state: row.state as AlertState,
    value: row.value,
    since: row.since,
    updatedAt: row.updated_at,
    source: row.source as AlertSource,
  };
}

function toTransition(row: TransitionRow): AlertTransition {
  return {
    id: row.id,
    alertKey: row.alert_key,
    ruleId: row.rule_id,
    name: row.name,
    from: row.from_state as AlertState,
    to: row.to_state as AlertState,
    at: row.at,
    value: row.value,
    labels: JSON.parse(row.labels) as Record<string, string>,
    source: row.source as AlertSource,
  };
}

function toOutbox(row: OutboxRow): OutboxItem {
  return {
    id: row.id,
    channelId: row.channel_id,
    alertKey: row.alert_key,
    dedupKey: row.dedup_key,
    payload: JSON.parse(row.payload) as unknown,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
    failedAt: row.failed_at,
    lastError: row.last_error,
  };
}
