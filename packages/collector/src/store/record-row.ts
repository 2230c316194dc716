import type { Attrs, RecordKind, StoredRecord } from './types.ts';

/** A row of the `records` table as better-sqlite3 returns it. */
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
