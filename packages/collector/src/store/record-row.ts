import { type Attrs, RECORD_KINDS, type RecordKind, type StoredRecord } from './types.ts';

/** The agent id of a `records` row: records keep the agent as an integer key (migration 6). */
export const AGENT_ID_OF_ROW = '(SELECT id FROM agents WHERE key = records.agent_key)';

/** What a query selects for a RecordRow. */
export const RECORD_COLUMNS = `records.*, ${AGENT_ID_OF_ROW} AS agent_id`;

/** A filter on records by agent id (bound as @agentId); the subquery runs once, so indexes apply. */
export const RECORD_AGENT_IS = 'agent_key = (SELECT key FROM agents WHERE id = @agentId)';

/**
 * A filter on kind with the kind written into the SQL: SQLite uses the indexes kept for metrics only
 * (migration 6) when a query states `kind = 'metric'` itself, which a bound parameter does not.
 */
export function recordKindIs(kind: RecordKind): string {
  if (!RECORD_KINDS.includes(kind)) throw new TypeError(`unknown record kind ${JSON.stringify(kind)}`);
  return `kind = '${kind}'`;
}

/** A row of the `records` table as better-sqlite3 returns it, selected with RECORD_COLUMNS. */
export interface RecordRow {
  id: number;
  agent_id: string;
  seq: number;
  kind: string;
  ts: number;
  name: string;
  value: number | null;
  unit: string | null;
  body: string | null;
  attrs: string;
  source: string;
  received_at: number;
}

export function toRecord(row: RecordRow): StoredRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    seq: row.seq,
    kind: row.kind as RecordKind,
    ts: row.ts,
    name: row.name,
    value: row.value,
    unit: row.unit,
    body: row.body,
    attrs: JSON.parse(row.attrs) as Attrs,
    source: row.source,
    receivedAt: row.received_at,
  };
}
