import type { StoredRecord } from './types.ts';

/**
 * A record as the read-back API and the forward sinks show it: the store's own bookkeeping
 * (receivedAt, and the row id, which a caller adds back where it pages by it) left out.
 */
export function recordView(r: StoredRecord) {
  return {
    agentId: r.agentId,
    seq: r.seq,
    kind: r.kind,
    ts: r.ts,
    name: r.name,
    value: r.value,
    unit: r.unit,
    body: r.body,
    attrs: r.attrs,
    source: r.source,
  };
}
