import type { Attrs, Rollup, Store, StoredRecord } from '../store/index.ts';
import { encodeCursor, encodeRollupCursor, type MetricQuery } from './query.ts';

const HOUR_MS = 3_600_000;

/**
 * One item of GET /api/v1/metrics: a raw record (the shape from before rollups could be read, so
 * without `resolution`), or one series' hourly rollup (value = avg).
 */
export type MetricPoint =
  | {
      agentId: string;
      seq: number;
      ts: number;
      name: string;
      value: number | null;
      unit: string | null;
      attrs: Attrs;
      source: string;
    }
  | {
      resolution: 'hour';
      agentId: string;
      /** The hour's start: the rollup covers [ts, ts + 1h). */
      ts: number;
      name: string;
      value: number;
      min: number;
      max: number;
      count: number;
      unit: string | null;
      attrs: Attrs;
      source: string;
    };

export interface MetricPage {
  metrics: MetricPoint[];
  /** The cursor of the last item (also on the last page, to tail with it); null on an empty page. */
  next: string | null;
  more: boolean;
}

/**
 * Reads metrics at the asked resolution. `auto` answers from hourly rollups up to the hour of the
 * oldest raw record still stored, and from raw records from that hour on, so a range older than
 * `retention.raw` still has data. The switch point is computed on every request.
 */
export async function readMetrics(store: Store, query: MetricQuery): Promise<MetricPage> {
  const { filter, resolution, after } = query;
  if (resolution === 'raw') return rawPage(store, query, filter.from, filter.limit);
  if (resolution === 'hour') return hourPage(store, query, filter.to, filter.limit);

  const oldest = await store.alerts.oldestMetricTs({ agentId: filter.agentId, name: filter.name });
  // The hour of the oldest raw record is answered raw: for a new agent that hour is complete, and
  // after retention only its part before the oldest record is missing.
  const switchAt = oldest === null ? Number.POSITIVE_INFINITY : Math.floor(oldest / HOUR_MS) * HOUR_MS;
  const rawFrom = Math.max(filter.from ?? Number.NEGATIVE_INFINITY, switchAt);
  if (after !== undefined && 'raw' in after) return rawPage(store, query, rawFrom, filter.limit);

  const hourTo = Math.min(filter.to ?? Number.POSITIVE_INFINITY, switchAt);
  const hours =
    filter.from !== undefined && filter.from >= switchAt
      ? { metrics: [], next: null, more: false }
      : await hourPage(store, query, Number.isFinite(hourTo) ? hourTo : undefined, filter.limit);
  if (hours.more || !Number.isFinite(rawFrom)) return hours;
  const room = filter.limit - hours.metrics.length;
  // A full page of rollups: only ask whether raw records follow.
  const raw = await rawPage(store, { ...query, after: undefined }, rawFrom, Math.max(room, 1));
  if (room === 0) return { ...hours, more: raw.metrics.length > 0 };
  return {
    metrics: [...hours.metrics, ...raw.metrics],
    next: raw.next ?? hours.next,
    more: raw.more,
  };
}

async function rawPage(
  store: Store,
  query: MetricQuery,
  from: number | undefined,
  limit: number,
): Promise<MetricPage> {
  const after = query.after !== undefined && 'raw' in query.after ? query.after.raw : undefined;
  const page = await store.queryRecords({ ...query.filter, from, limit, kind: 'metric', after });
  const last = page.records.at(-1);
  return {
    metrics: page.records.map(rawPoint),
    next: last ? encodeCursor(last) : null,
    more: page.more,
  };
}

async function hourPage(
  store: Store,
  query: MetricQuery,
  to: number | undefined,
  limit: number,
): Promise<MetricPage> {
  const after = query.after !== undefined && 'hour' in query.after ? query.after.hour : undefined;
  const page = await store.alerts.queryRollups({ ...query.filter, to, limit, after });
  const last = page.rollups.at(-1);
  return {
    metrics: page.rollups.map(hourPoint),
    next: last ? encodeRollupCursor(last) : null,
    more: page.more,
  };
}

function rawPoint(r: StoredRecord): MetricPoint {
  return {
    agentId: r.agentId,
    seq: r.seq,
    ts: r.ts,
    name: r.name,
    value: r.value,
    unit: r.unit,
    attrs: r.attrs,
    source: r.source,
  };
}

function hourPoint(r: Rollup): MetricPoint {
  return {
    resolution: 'hour',
    agentId: r.agentId,
    ts: r.hour,
    name: r.name,
    value: r.avg,
    min: r.min,
    max: r.max,
    count: r.count,
    unit: r.unit,
    attrs: r.attrs,
    source: r.source,
  };
}
